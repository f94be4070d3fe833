#include "coordinator/http/http_session.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <random>
#include <sstream>

#include "coordinator/http/exchange.h"
#include "coordinator/http/http_server.h"
#include "core/log.h"

namespace mixserve {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;

constexpr uint64_t kMaxDiscardBytes = 256ull << 20;  // of a rejected body, before the connection is cut
constexpr size_t kMaxPipelinedBytes = 1 << 20;       // buffered ahead while a request is being answered

// The Exchange handed to handlers: forwards to its session, tagged with its sequence number so that a late
// call from a finished request cannot write into the next one.
class SessionExchange final : public Exchange {
 public:
  SessionExchange(std::shared_ptr<HttpSession> session, uint64_t seq) : session_(std::move(session)), seq_(seq) {}
  ~SessionExchange() override {
    if (!answered_ && session_->io_running()) net::post(session_->executor(), [s = session_, seq = seq_] { s->exchange_abandoned(seq); });
  }
  net::any_io_executor executor() override { return session_->executor(); }
  void respond(HttpResponse response) override {
    answered_ = true;
    session_->exchange_respond(seq_, std::move(response));
  }
  void start_event_stream(std::vector<HttpHeader> extra_headers) override {
    answered_ = true;
    session_->exchange_start_stream(seq_, std::move(extra_headers));
  }
  void send_event(const std::string& data) override { session_->exchange_event(seq_, data); }
  void end_event_stream() override { session_->exchange_end_stream(seq_); }
  void on_client_gone(std::function<void()> callback) override {
    session_->exchange_on_gone(seq_, std::move(callback));
  }
  bool client_gone() const override { return session_->exchange_gone(seq_); }

 private:
  std::shared_ptr<HttpSession> session_;
  uint64_t seq_;
  bool answered_ = false;
};

bool is_id_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
}

// The client's X-Request-Id when it is a sane token, else a fresh random one.
std::string request_id_for(std::string_view sent) {
  if (!sent.empty() && sent.size() <= 128) {
    bool ok = true;
    for (char c : sent) ok = ok && is_id_char(c);
    if (ok) return std::string(sent);
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(rng()));
  return id;
}

bool is_parse_error(const beast::error_code& ec) {
  return ec && ec.category() == make_error_code(http::error::bad_method).category();
}

std::string chunk_of(const std::string& payload) {
  char size[20];
  std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
  return std::string(size) + payload + "\r\n";
}

std::string error_body(const std::string& message, const std::string& code) {
  return nlohmann::json{{"error", {{"message", message}, {"type", "invalid_request_error"}, {"param", nullptr},
                                   {"code", code}}}}.dump();
}

}  // namespace

HttpSession::HttpSession(net::ip::tcp::socket socket, HttpServer& server)
    : server_(server),
      io_running_(server.io_running_),
      busy_count_(server.busy_),
      options_(server.options_),
      stream_(std::move(socket)),
      write_timer_(stream_.get_executor()) {}

void HttpSession::set_busy(bool busy) {
  if (busy == busy_) return;
  busy_ = busy;
  busy_count_->fetch_add(busy ? 1 : -1);
}

void HttpSession::start() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read_header(); });
}

void HttpSession::close() {
  net::post(stream_.get_executor(), [self = shared_from_this()] { self->close_now(); });
}

void HttpSession::do_read_header() {
  state_ = State::reading;
  parser_.emplace();
  parser_->body_limit(options_.max_body_bytes);
  parser_->header_limit(options_.max_header_bytes);
  stream_.expires_after(options_.idle_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read_header(ec); });
}

void HttpSession::on_read_header(beast::error_code ec) {
  if (state_ == State::closed) return;
  if (ec == http::error::body_limit) return reject(413, "request body exceeds the limit", "request_too_large");
  if (ec == http::error::header_limit) return reject(431, "request headers are too large", "headers_too_large");
  if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout) return close_now();
  if (is_parse_error(ec)) return reject(400, ec.message(), "bad_request");
  if (ec) return close_now();
  const auto expect = parser_->get()[http::field::expect];
  if (iequals(std::string_view(expect.data(), expect.size()), "100-continue")) {
    // Clients holding a large body back until told to send it (curl does over 1 MiB).
    enqueue("HTTP/1.1 100 Continue\r\n\r\n", false);
  }
  stream_.expires_after(options_.read_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read_body(ec); });
}

void HttpSession::on_read_body(beast::error_code ec) {
  if (state_ == State::closed) return;
  if (ec == http::error::body_limit) return reject(413, "request body exceeds the limit", "request_too_large");
  if (is_parse_error(ec)) return reject(400, ec.message(), "bad_request");
  if (ec) return close_now();
  stream_.expires_never();
  dispatch();
}

void HttpSession::dispatch() {
  auto message = parser_->release();
  parser_.reset();
  ++seq_;
  state_ = State::answering;
  set_busy(true);
  gone_ = false;
  on_gone_ = nullptr;
  keep_alive_ = message.keep_alive();
  version_ = message.version();
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.path = request.target.substr(0, request.target.find('?'));
  for (const auto& field : message) {
    request.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  }
  request.body = std::move(message.body());
  request.request_id = request_id_for(request.header("x-request-id"));
  request_id_ = request.request_id;
  arm_watch();
  server_.handler_.handle(std::move(request), std::make_shared<SessionExchange>(shared_from_this(), seq_));
}

void HttpSession::arm_watch() {
  if (watching_ || state_ == State::closed || buffer_.size() >= kMaxPipelinedBytes) return;
  watching_ = true;
  stream_.socket().async_read_some(
      buffer_.prepare(4096),
      net::bind_executor(stream_.get_executor(),
                         [self = shared_from_this()](beast::error_code ec, size_t n) { self->on_watch(ec, n); }));
}

void HttpSession::on_watch(beast::error_code ec, size_t n) {
  watching_ = false;
  if (state_ == State::closed) return;
  if (!ec) buffer_.commit(n);
  if (ec && ec != net::error::operation_aborted) return client_gone();
  if (state_ == State::reading) return do_read_header();  // the answer is out; the watch was cancelled for this
  arm_watch();
}

void HttpSession::reject(int status, const std::string& message, const std::string& code) {
  LOG_INFO("http", "rejecting a request with " << status << ": " << message);
  if (options_.on_rejected) options_.on_rejected(status);
  ++seq_;
  state_ = State::answering;
  keep_alive_ = false;
  close_after_write_ = true;
  HttpResponse response{.status = status, .body = error_body(message, code)};
  enqueue(serialize(response), true);
}

void HttpSession::discard_then_close() {
  // The client may still be sending the body we refused; closing with unread bytes would reset the connection
  // before it reads our answer. Close our sending side, then read and drop what comes for a few seconds.
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  stream_.expires_after(std::chrono::seconds(5));
  scratch_.resize(64 << 10);
  discard_more(0);
}

void HttpSession::discard_more(uint64_t total) {
  stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this(), total](beast::error_code ec, size_t n) {
    if (ec || total + n > kMaxDiscardBytes) return self->close_now();
    self->discard_more(total + n);
  });
}

std::string HttpSession::serialize(const HttpResponse& response) const {
  http::response<http::string_body> message{static_cast<http::status>(response.status), version_};
  message.set(http::field::server, "mixserve");
  message.set(http::field::content_type, response.content_type);
  if (!request_id_.empty()) message.set("X-Request-Id", request_id_);
  for (const auto& h : response.headers) message.insert(h.name, h.value);
  message.keep_alive(keep_alive_);
  message.body() = response.body;
  message.prepare_payload();
  std::ostringstream os;
  os << message;
  return os.str();
}

void HttpSession::exchange_respond(uint64_t seq, HttpResponse response) {
  if (seq != seq_ || state_ != State::answering) return;
  enqueue(serialize(response), true);
}

void HttpSession::exchange_start_stream(uint64_t seq, std::vector<HttpHeader> headers) {
  if (seq != seq_ || state_ != State::answering) return;
  state_ = State::streaming;
  http::response<http::empty_body> message{http::status::ok, version_};
  message.set(http::field::server, "mixserve");
  message.set(http::field::content_type, "text/event-stream");
  message.set(http::field::cache_control, "no-cache");
  message.set("X-Accel-Buffering", "no");  // nginx: pass events through as they come
  if (!request_id_.empty()) message.set("X-Request-Id", request_id_);
  for (const auto& h : headers) message.insert(h.name, h.value);
  if (version_ == 11) {
    message.chunked(true);
  } else {
    keep_alive_ = false;  // HTTP/1.0 has no chunking: the end of the stream is the end of the connection
  }
  message.keep_alive(keep_alive_);
  std::ostringstream os;
  os << message.base();
  enqueue(os.str(), false);
}

void HttpSession::exchange_event(uint64_t seq, const std::string& data) {
  if (seq != seq_ || state_ != State::streaming) return;
  const std::string event = "data: " + data + "\n\n";
  enqueue(version_ == 11 ? chunk_of(event) : event, false);
}

void HttpSession::exchange_end_stream(uint64_t seq) {
  if (seq != seq_ || state_ != State::streaming) return;
  state_ = State::answering;  // no more events; the exchange completes when this write is out
  enqueue(version_ == 11 ? std::string("0\r\n\r\n") : std::string(), true);
}

void HttpSession::exchange_abandoned(uint64_t seq) {
  if (seq != seq_ || state_ == State::closed || state_ == State::reading) return;
  LOG_ERROR("http", "request " << request_id_ << " was dropped without an answer (a bug)");
  if (state_ == State::streaming) return close_now();
  exchange_respond(seq, {.status = 500, .body = error_body("internal error: no answer", "internal_error")});
}

void HttpSession::exchange_on_gone(uint64_t seq, std::function<void()> callback) {
  if (seq != seq_) return;
  if (gone_) return callback();
  on_gone_ = std::move(callback);
}

bool HttpSession::exchange_gone(uint64_t seq) const { return seq != seq_ || gone_; }

void HttpSession::enqueue(std::string bytes, bool completes_exchange) {
  if (state_ == State::closed || gone_) return;
  writes_.emplace_back(std::move(bytes), completes_exchange);
  if (!writing_) do_write();
}

void HttpSession::do_write() {
  writing_ = true;
  write_timer_.expires_after(options_.write_timeout);
  write_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || !self->writing_ || self->write_timer_.expiry() > std::chrono::steady_clock::now()) return;
    LOG_INFO("http", "request " << self->request_id_ << ": client stopped reading; closing");
    self->client_gone();
  });
  net::async_write(stream_.socket(), net::buffer(writes_.front().first),
                   net::bind_executor(stream_.get_executor(), [self = shared_from_this()](
                                                                  beast::error_code ec, size_t) { self->on_write(ec); }));
}

void HttpSession::on_write(beast::error_code ec) {
  writing_ = false;
  write_timer_.cancel();
  if (state_ == State::closed) return;
  if (ec) return client_gone();
  const bool completes = writes_.front().second;
  writes_.pop_front();
  if (completes) return on_exchange_complete();
  if (!writes_.empty()) do_write();
}

void HttpSession::on_exchange_complete() {
  on_gone_ = nullptr;
  set_busy(false);
  writes_.clear();
  if (close_after_write_) return discard_then_close();
  if (!keep_alive_) {
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    return close_now();
  }
  state_ = State::reading;
  if (watching_) {
    beast::error_code ignored;
    stream_.socket().cancel(ignored);  // on_watch sees operation_aborted and reads the next request
    return;
  }
  do_read_header();
}

void HttpSession::client_gone() {
  if (state_ == State::closed) return;
  const bool in_flight = state_ == State::answering || state_ == State::streaming;
  // A client that read the whole answer may close before our last write's completion runs: not news.
  const bool only_last_write_left = writes_.size() == 1 && writes_.front().second;
  if (in_flight && !only_last_write_left) LOG_INFO("http", "request " << request_id_ << ": client disconnected");
  close_now();
}

void HttpSession::close_now() {
  if (state_ == State::closed) return;
  const bool in_flight = state_ == State::answering || state_ == State::streaming;
  state_ = State::closed;
  set_busy(false);
  gone_ = true;
  writes_.clear();
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  write_timer_.cancel();
  server_.on_session_closed(this);
  if (in_flight && on_gone_) {
    auto callback = std::move(on_gone_);
    on_gone_ = nullptr;
    callback();
  }
}

}  // namespace mixserve
