#pragma once
// One streaming /v1/completions request of the load generator, on Asio: connect, POST, then read the SSE
// events as they arrive and note when text comes (first text: TTFT; the gaps after: ITL) and what the final
// usage chunk says. One connection per request, as a fresh client would.
// Thread-safety: a call runs on the io_context's thread(s) it was started on; `done` is called there once.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/status.h"

namespace mixserve::bench {

struct Target {
  std::string host = "127.0.0.1";
  std::string port = "8000";
  std::string path = "/v1/completions";
};
// "http://host:port[/path]" (no TLS); the path defaults to /v1/completions.
Result<Target> parse_url(const std::string& url);

struct RequestResult {
  bool ok = false;
  std::string error;          // why it failed: HTTP status and message, a timeout, a connection error
  double start_s = 0;         // when it was sent, relative to the run's start
  double ttft_s = 0;          // time to the first chunk with text
  double latency_s = 0;       // time to [DONE]
  std::vector<double> itl_s;  // gaps between consecutive chunks with text
  int64_t prompt_tokens = 0;  // from usage
  int64_t output_tokens = 0;  // from usage (chunks with text when the server sends none)
};

void send_streaming_request(boost::asio::io_context& ioc, const Target& target, std::string body,
                            std::chrono::seconds timeout, std::function<void(RequestResult)> done);

}  // namespace mixserve::bench
