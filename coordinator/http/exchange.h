#pragma once
// Exchange: one HTTP request's way back to its client, handed to the handler with the request. It answers
// either once with a whole response, or as a Server-Sent Events stream (chunked transfer encoding) of events
// ended by end_event_stream().
// Thread-safety: every method must run on executor() (the connection's strand). Code on other threads (the
// scheduler's RequestSink callbacks) posts there: boost::asio::post(exchange->executor(), ...).
// Lifetime: the handler keeps the shared_ptr as long as it may still answer; the connection stays open until
// the exchange has answered (or the client is gone). An exchange dropped without an answer gets a 500.
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "coordinator/http/http_message.h"

namespace mixserve {

class Exchange {
 public:
  virtual ~Exchange() = default;

  virtual boost::asio::any_io_executor executor() = 0;

  // The whole answer; the exchange is complete once it is written.
  virtual void respond(HttpResponse response) = 0;

  // 200 with Content-Type text/event-stream, then events written in order as "data: <data>\n\n".
  virtual void start_event_stream(std::vector<HttpHeader> extra_headers = {}) = 0;
  virtual void send_event(const std::string& data) = 0;
  virtual void end_event_stream() = 0;

  // Called once, on executor(), when the client goes away (connection closed or reset, a write failed or
  // stalled) before the exchange completed. Set it before answering; calls after the fact run at once.
  virtual void on_client_gone(std::function<void()> callback) = 0;
  virtual bool client_gone() const = 0;
};

}  // namespace mixserve
