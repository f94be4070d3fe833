#pragma once
// Drives a benchmark: releases each request at its arrival time, holds it back while max_concurrency
// requests are in flight, and collects every result. One thread runs all connections (Asio); nothing waits
// without a bound (each request has its own timeout).
#include <chrono>
#include <string>
#include <vector>

#include "coordinator/bench/stream_client.h"
#include "coordinator/bench/workload.h"
#include "core/status.h"

namespace mixserve::bench {

struct BenchOptions {
  Target target;
  std::string model;
  int max_concurrency = 0;  // 0: no limit
  bool ignore_eos = false;
  double temperature = 0;   // greedy by default, so runs repeat
  std::chrono::seconds request_timeout{600};
};

struct BenchRun {
  std::vector<RequestResult> results;  // in workload order
  double duration_s = 0;               // first release to last completion
};

// The JSON body of one request: prompt ids (or text), max_tokens, stream with include_usage.
std::string request_body(const BenchOptions& options, const BenchRequest& request);

BenchRun run_bench(const BenchOptions& options, const std::vector<BenchRequest>& requests);

}  // namespace mixserve::bench
