#include "coordinator/bench/bench_runner.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <deque>
#include <memory>

namespace mixserve::bench {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

// All state lives on the one io_context thread.
class Dispatcher {
 public:
  Dispatcher(net::io_context& ioc, const BenchOptions& options, const std::vector<BenchRequest>& requests)
      : ioc_(ioc), timer_(ioc), options_(options), requests_(requests), results_(requests.size()) {}

  void start() {
    start_ = Clock::now();
    schedule_next();
  }
  double duration_s() const { return std::chrono::duration<double>(end_ - start_).count(); }
  std::vector<RequestResult>& results() { return results_; }

 private:
  void schedule_next() {
    if (next_ >= requests_.size()) return;
    const auto due = start_ + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(requests_[next_].arrival_s));
    timer_.expires_at(due);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      // Release every request that is due now (all of them at once for an infinite rate).
      while (next_ < requests_.size() &&
             start_ + std::chrono::duration<double>(requests_[next_].arrival_s) <= Clock::now()) {
        ready_.push_back(next_++);
      }
      launch_ready();
      schedule_next();
    });
  }

  void launch_ready() {
    while (!ready_.empty() && (options_.max_concurrency <= 0 || in_flight_ < options_.max_concurrency)) {
      const size_t i = ready_.front();
      ready_.pop_front();
      ++in_flight_;
      const double sent_s = std::chrono::duration<double>(Clock::now() - start_).count();
      send_streaming_request(ioc_, options_.target, request_body(options_, requests_[i]), options_.request_timeout,
                             [this, i, sent_s](RequestResult result) {
                               result.start_s = sent_s;
                               if (result.prompt_tokens == 0) result.prompt_tokens = requests_[i].prompt_len;
                               results_[i] = std::move(result);
                               --in_flight_;
                               ++finished_;
                               end_ = Clock::now();
                               // Not from inside the finished connection's handler: launch on a fresh turn.
                               net::post(ioc_, [this] { launch_ready(); });
                             });
    }
  }

  net::io_context& ioc_;
  net::steady_timer timer_;
  const BenchOptions& options_;
  const std::vector<BenchRequest>& requests_;
  std::vector<RequestResult> results_;
  std::deque<size_t> ready_;
  size_t next_ = 0;
  int in_flight_ = 0;
  size_t finished_ = 0;
  Clock::time_point start_, end_;
};

}  // namespace

std::string request_body(const BenchOptions& options, const BenchRequest& request) {
  nlohmann::json body = {{"model", options.model},
                         {"max_tokens", request.max_tokens},
                         {"temperature", options.temperature},
                         {"stream", true},
                         {"stream_options", {{"include_usage", true}}}};
  if (request.prompt_text) {
    body["prompt"] = *request.prompt_text;
  } else {
    body["prompt"] = request.prompt_ids;
  }
  if (options.ignore_eos) body["ignore_eos"] = true;
  return body.dump();
}

BenchRun run_bench(const BenchOptions& options, const std::vector<BenchRequest>& requests) {
  net::io_context ioc;
  Dispatcher dispatcher(ioc, options, requests);
  dispatcher.start();
  ioc.run();  // ends when every request has finished (each has a timeout)
  return {.results = std::move(dispatcher.results()), .duration_s = dispatcher.duration_s()};
}

}  // namespace mixserve::bench
