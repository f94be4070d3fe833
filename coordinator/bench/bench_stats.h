#pragma once
// The numbers `mixserve bench` reports, as vLLM's benchmark_serving defines them: request and token
// throughput over the run; mean/median/p99 of TTFT, TPOT ((latency - TTFT) / (output tokens - 1), requests with
// more than one output token), ITL (every gap between chunks with text) and E2E latency, in milliseconds.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/bench/stream_client.h"

namespace mixserve::bench {

struct Distribution {
  double mean = 0;
  double median = 0;
  double p99 = 0;
  int64_t n = 0;  // values summarized
};

// Percentile p in [0, 100] of sorted values with linear interpolation (numpy's default); 0 when empty.
double percentile(const std::vector<double>& sorted, double p);
Distribution summarize(std::vector<double> values);

struct BenchSummary {
  int64_t completed = 0;
  int64_t failed = 0;
  double duration_s = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double request_throughput = 0;      // completed requests / s
  double output_throughput = 0;       // output tokens / s
  double total_token_throughput = 0;  // (input + output) tokens / s
  Distribution ttft_ms, tpot_ms, itl_ms, e2el_ms;
  std::vector<std::string> first_errors;  // up to 5, for the report
};

BenchSummary summarize_results(const std::vector<RequestResult>& results, double duration_s);
std::string format_table(const BenchSummary& summary);
nlohmann::json summary_json(const BenchSummary& summary);

}  // namespace mixserve::bench
