#include "coordinator/http/http_server.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <cctype>

#include "coordinator/http/http_session.h"
#include "core/log.h"

namespace mixserve {

namespace net = boost::asio;
using tcp = net::ip::tcp;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler& handler)
    : options_(std::move(options)),
      handler_(handler),
      acceptor_(net::make_strand(ioc_)),  // accept handlers and stop_accepting() never run at once
      accept_retry_(acceptor_.get_executor()) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() {
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  boost::system::error_code ec;
  const auto address = net::ip::make_address(options_.host, ec);
  if (ec) return invalid_argument("--host '" + options_.host + "' is not an IP address: " + ec.message());
  const tcp::endpoint endpoint{address, options_.port};
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return io_error("cannot listen on " + where + ": " + ec.message());
  bound_port_ = acceptor_.local_endpoint().port();
  do_accept();
  // The guard keeps run() going while no connection is open: the scheduler still posts results to sessions
  // and stop() ends the threads.
  auto guard = std::make_shared<net::executor_work_guard<net::io_context::executor_type>>(ioc_.get_executor());
  for (int i = 0; i < std::max(1, options_.n_threads); ++i) {
    threads_.emplace_back([this, guard] { ioc_.run(); });
  }
  LOG_INFO("http", "listening on " << options_.host << ":" << bound_port_ << " with " << threads_.size()
                                   << " threads, body limit " << options_.max_body_bytes << " bytes");
  return Status::ok_status();
}

void HttpServer::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open() || stopped_.load()) return;
    if (ec) {
      // Usually out of file descriptors: retrying at once would spin, so wait a little for connections to close.
      LOG_WARN("http", "accept failed: " << ec.message() << "; retrying in 100 ms");
      accept_retry_.expires_after(std::chrono::milliseconds(100));
      accept_retry_.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec && acceptor_.is_open()) do_accept();
      });
      return;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // SSE events are small and must leave at once
    auto session = std::make_shared<HttpSession>(std::move(socket), *this);
    {
      std::lock_guard lock(sessions_mutex_);
      sessions_.push_back(session);
      ++n_open_;
    }
    session->start();
    do_accept();
  });
}

int64_t HttpServer::open_connections() const {
  std::lock_guard lock(sessions_mutex_);
  return n_open_;
}

void HttpServer::on_session_closed(HttpSession* session) {
  std::lock_guard lock(sessions_mutex_);
  --n_open_;
  std::erase_if(sessions_, [session](const std::weak_ptr<HttpSession>& w) {
    auto s = w.lock();
    return !s || s.get() == session;
  });
}

void HttpServer::stop_accepting() {
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
  });
}

void HttpServer::stop() {
  if (stopped_.exchange(true)) return;
  if (threads_.empty()) return;
  stop_accepting();
  // Close every connection and let the closes run (bounded) so clients see a clean end rather than whatever
  // the teardown leaves. Collected again each round: an accept that was completing may add one late.
  for (int round = 0; round < 200; ++round) {
    std::vector<std::shared_ptr<HttpSession>> open;
    {
      std::lock_guard lock(sessions_mutex_);
      for (auto& w : sessions_) {
        if (auto s = w.lock()) open.push_back(std::move(s));
      }
    }
    if (open.empty()) break;
    for (auto& s : open) s->close();
    open.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  io_running_->store(false);
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace mixserve
