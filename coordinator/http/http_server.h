#pragma once
// HttpServer: an HTTP/1.1 server on Boost.Beast. Keep-alive and pipelined requests, many connections served
// by a few threads (one strand per connection), a request body limit (413), idle and write timeouts, and
// client-disconnect detection while a request is being answered (Exchange::on_client_gone).
// Threads: start() spawns n_threads threads that run all I/O and call the handler. stop() may be called from
// any thread except those; the other methods from any thread.
// Teardown: whoever still holds exchanges (the engine core, through its RequestSinks) must let go of them
// after stop() and before the server is destroyed: their connections belong to the server's io_context.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "coordinator/http/exchange.h"
#include "coordinator/http/http_message.h"
#include "core/status.h"

namespace mixserve {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;  // 0: an ephemeral port, see HttpServer::port()
  int n_threads = 2;
  uint64_t max_body_bytes = 8ull << 20;  // larger bodies get 413
  uint32_t max_header_bytes = 16 << 10;
  std::chrono::milliseconds idle_timeout{75000};   // keep-alive wait for the next request (nginx's default)
  std::chrono::milliseconds read_timeout{30000};   // a request that has started must arrive within this
  std::chrono::milliseconds write_timeout{60000};  // a client that stops reading this long is gone
  // Called (on a connection strand) with the status of every request the server refuses before any handler
  // sees it: 400 unparsable, 413 body too large, 431 headers too large. For the error metrics.
  std::function<void(int)> on_rejected;
};

// The application side. handle() runs on the connection's strand and must not block for long: it answers
// through the exchange now or later, from any thread by posting to exchange->executor().
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  virtual void handle(HttpRequest request, std::shared_ptr<Exchange> exchange) = 0;
};

class HttpSession;

class HttpServer {
 public:
  // `handler` must outlive the server.
  HttpServer(HttpServerOptions options, HttpHandler& handler);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens, then starts the threads. io_error naming host:port when the bind fails.
  Status start();
  uint16_t port() const { return bound_port_; }
  boost::asio::io_context& io_context() { return ioc_; }
  int64_t open_connections() const;
  // Requests read and not yet fully answered (drain waits for this to reach zero).
  int64_t busy_exchanges() const { return busy_->load(); }

  // Closes the listening socket; open connections keep being served.
  void stop_accepting();
  // Closes every connection and joins the threads. Idempotent.
  void stop();

 private:
  friend class HttpSession;
  void do_accept();
  void on_session_closed(HttpSession* session);

  HttpServerOptions options_;
  HttpHandler& handler_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;  // backs off when accept fails (out of files)
  uint16_t bound_port_ = 0;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
  // Shared with the sessions, which outlive neither the io_context nor these flags' owner... except through
  // exchanges held elsewhere: `io_running_` tells them whether posting to the io_context is still allowed.
  std::shared_ptr<std::atomic<bool>> io_running_ = std::make_shared<std::atomic<bool>>(true);
  std::shared_ptr<std::atomic<int64_t>> busy_ = std::make_shared<std::atomic<int64_t>>(0);

  mutable std::mutex sessions_mutex_;
  std::vector<std::weak_ptr<HttpSession>> sessions_;  // to close them on stop(); pruned as they close
  int64_t n_open_ = 0;
};

}  // namespace mixserve
