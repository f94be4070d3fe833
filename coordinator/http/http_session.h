#pragma once
// One client connection of HttpServer: reads requests one at a time (pipelined ones wait in the buffer, so
// answers go out in order), hands each to the handler with an Exchange, writes the answer, then reads the
// next. While a request is being answered a read stays posted on the socket: its end (EOF, reset) is how a
// client that went away is noticed, and bytes it brings are kept for the next request.
// Thread-safety: everything runs on the connection's strand; exchanges (SessionExchange in the .cpp) post there.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "coordinator/http/http_message.h"

namespace mixserve {

class HttpServer;
struct HttpServerOptions;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket socket, HttpServer& server);
  void start();
  void close();  // posts a close to the strand; safe from any thread

  // Called by the exchange with number `seq`, on the strand; stale exchanges (seq != current) are ignored.
  boost::asio::any_io_executor executor() { return stream_.get_executor(); }
  bool io_running() const { return io_running_->load(); }
  void exchange_respond(uint64_t seq, HttpResponse response);
  void exchange_start_stream(uint64_t seq, std::vector<HttpHeader> headers);
  void exchange_event(uint64_t seq, const std::string& data);
  void exchange_end_stream(uint64_t seq);
  void exchange_abandoned(uint64_t seq);  // dropped without an answer: 500
  void exchange_on_gone(uint64_t seq, std::function<void()> callback);
  bool exchange_gone(uint64_t seq) const;

 private:
  enum class State { reading, answering, streaming, closed };

  void do_read_header();
  void on_read_header(boost::beast::error_code ec);
  void on_read_body(boost::beast::error_code ec);
  void dispatch();
  void arm_watch();
  void on_watch(boost::beast::error_code ec, size_t n);
  void reject(int status, const std::string& message, const std::string& code);
  void discard_then_close();
  void discard_more(uint64_t total);
  void enqueue(std::string bytes, bool completes_exchange);
  void do_write();
  void on_write(boost::beast::error_code ec);
  void on_exchange_complete();
  void client_gone();
  void close_now();
  std::string serialize(const HttpResponse& response) const;

  void set_busy(bool busy);

  HttpServer& server_;
  std::shared_ptr<std::atomic<bool>> io_running_;
  std::shared_ptr<std::atomic<int64_t>> busy_count_;
  bool busy_ = false;
  const HttpServerOptions& options_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::asio::steady_timer write_timer_;

  State state_ = State::reading;
  uint64_t seq_ = 0;             // number of the current exchange
  bool keep_alive_ = true;       // of the current request
  unsigned version_ = 11;        // 10 or 11
  std::string request_id_;
  bool watching_ = false;        // the disconnect-watch read is posted
  bool writing_ = false;
  bool close_after_write_ = false;
  std::deque<std::pair<std::string, bool>> writes_;  // bytes, completes the exchange
  std::function<void()> on_gone_;
  bool gone_ = false;
  std::string scratch_;          // discarded bytes of a rejected body
};

}  // namespace mixserve
