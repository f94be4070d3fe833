#include "coordinator/bench/stream_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>

namespace mixserve::bench {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

class StreamCall : public std::enable_shared_from_this<StreamCall> {
 public:
  StreamCall(net::io_context& ioc, Target target, std::string body, std::chrono::seconds timeout,
             std::function<void(RequestResult)> done)
      : resolver_(ioc), stream_(ioc), target_(std::move(target)), timeout_(timeout), done_(std::move(done)) {
    request_ = {http::verb::post, target_.path, 11};
    request_.set(http::field::host, target_.host);
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::accept, "text/event-stream");
    request_.body() = std::move(body);
    request_.prepare_payload();
    parser_.body_limit(64ull << 20);
    // Beast keeps a reference to the callback, so it lives in a member.
    chunk_body_ = [this](uint64_t, beast::string_view data, beast::error_code&) {
      on_bytes(std::string_view(data.data(), data.size()));
      return data.size();
    };
    parser_.on_chunk_body(chunk_body_);
  }

  void start() {
    sent_ = Clock::now();
    stream_.expires_after(timeout_);
    resolver_.async_resolve(target_.host, target_.port, [self = shared_from_this()](beast::error_code ec, auto results) {
      if (ec) return self->finish("resolve: " + ec.message());
      self->stream_.async_connect(results, [self](beast::error_code ec, auto) {
        if (ec) return self->finish("connect: " + ec.message());
        http::async_write(self->stream_, self->request_, [self](beast::error_code ec, size_t) {
          if (ec) return self->finish("write: " + ec.message());
          http::async_read(self->stream_, self->buffer_, self->parser_,
                           [self](beast::error_code ec, size_t) { self->on_read(ec); });
        });
      });
    });
  }

 private:
  void on_bytes(std::string_view data) {
    events_ += data;
    for (size_t end; (end = events_.find("\n\n")) != std::string::npos;) {
      on_event(events_.substr(0, end));
      events_.erase(0, end + 2);
    }
  }

  void on_event(const std::string& event) {
    if (!event.starts_with("data: ")) return;
    const std::string payload = event.substr(6);
    if (payload == "[DONE]") {
      saw_done_ = true;
      return;
    }
    const auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded()) return fail_later("an event is not JSON: " + payload.substr(0, 200));
    if (j.contains("error")) return fail_later("error event: " + j["error"].value("message", std::string("?")));
    if (j.contains("usage") && j["usage"].is_object()) {
      result_.prompt_tokens = j["usage"].value("prompt_tokens", int64_t{0});
      usage_tokens_ = j["usage"].value("completion_tokens", int64_t{0});
    }
    bool has_text = false;
    for (const auto& choice : j.value("choices", nlohmann::json::array())) {
      const auto text = choice.contains("text") ? choice["text"] : choice.value("delta", nlohmann::json::object()).value("content", nlohmann::json(""));
      if (text.is_string() && !text.get<std::string>().empty()) has_text = true;
    }
    if (!has_text) return;
    const auto now = Clock::now();
    if (text_chunks_ == 0) {
      result_.ttft_s = seconds_between(sent_, now);
    } else {
      result_.itl_s.push_back(seconds_between(last_text_, now));
    }
    last_text_ = now;
    ++text_chunks_;
  }

  void fail_later(std::string error) {
    if (!error_) error_ = std::move(error);
  }

  void on_read(beast::error_code ec) {
    if (ec) return finish("read: " + ec.message());
    const auto& response = parser_.get();
    if (response.result() != http::status::ok) {
      return finish("HTTP " + std::to_string(response.result_int()) + ": " + response.body().substr(0, 300));
    }
    if (error_) return finish(*error_);
    if (!saw_done_) return finish("the stream ended without [DONE]");
    result_.ok = true;
    result_.latency_s = seconds_between(sent_, Clock::now());
    result_.output_tokens = usage_tokens_ ? *usage_tokens_ : text_chunks_;
    finish("");
  }

  void finish(const std::string& error) {
    if (finished_) return;
    finished_ = true;
    if (!error.empty()) {
      result_.ok = false;
      result_.error = error;
    }
    beast::error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    done_(std::move(result_));
  }

  net::ip::tcp::resolver resolver_;
  beast::tcp_stream stream_;
  Target target_;
  std::chrono::seconds timeout_;
  std::function<void(RequestResult)> done_;
  http::request<http::string_body> request_;
  std::function<size_t(uint64_t, beast::string_view, beast::error_code&)> chunk_body_;
  http::response_parser<http::string_body> parser_;
  beast::flat_buffer buffer_;
  std::string events_;
  Clock::time_point sent_, last_text_;
  int64_t text_chunks_ = 0;
  std::optional<int64_t> usage_tokens_;
  std::optional<std::string> error_;
  bool saw_done_ = false;
  bool finished_ = false;
  RequestResult result_;
};

}  // namespace

Result<Target> parse_url(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return invalid_argument("--url must start with http:// (got '" + url + "')");
  std::string rest = url.substr(kScheme.size());
  Target target;
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    const std::string path = rest.substr(slash);
    // A base URL as OpenAI clients take it ("http://host:port/v1") means the completions route under it.
    if (path == "/v1" || path == "/v1/") {
      target.path = "/v1/completions";
    } else if (path != "/") {
      target.path = path;
    }
    rest = rest.substr(0, slash);
  }
  const size_t colon = rest.rfind(':');
  if (colon != std::string::npos) {
    target.host = rest.substr(0, colon);
    target.port = rest.substr(colon + 1);
  } else {
    target.host = rest;
    target.port = "80";
  }
  if (target.host.empty() || target.port.empty()) return invalid_argument("--url has no host or port: " + url);
  return target;
}

void send_streaming_request(net::io_context& ioc, const Target& target, std::string body, std::chrono::seconds timeout,
                            std::function<void(RequestResult)> done) {
  std::make_shared<StreamCall>(ioc, target, std::move(body), timeout, std::move(done))->start();
}

}  // namespace mixserve::bench
