#include "coordinator/bench/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace mixserve::bench {
namespace {

std::string line(const char* label, double value, const char* format = "%.2f") {
  char number[64];
  std::snprintf(number, sizeof number, format, value);
  char out[128];
  std::snprintf(out, sizeof out, "%-40s %s\n", label, number);
  return out;
}

std::string section(const char* title) {
  std::string s(50, '-');
  const std::string t = std::string(title);
  s.replace((s.size() - t.size()) / 2, t.size(), t);
  return s + "\n";
}

std::string distribution_lines(const char* name, const Distribution& d) {
  const std::string n(name);
  return line(("Mean " + n + " (ms):").c_str(), d.mean) + line(("Median " + n + " (ms):").c_str(), d.median) +
         line(("P99 " + n + " (ms):").c_str(), d.p99);
}

nlohmann::json distribution_json(const Distribution& d) {
  return {{"mean", d.mean}, {"median", d.median}, {"p99", d.p99}, {"n", d.n}};
}

}  // namespace

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

Distribution summarize(std::vector<double> values) {
  Distribution d;
  d.n = static_cast<int64_t>(values.size());
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  d.median = percentile(values, 50);
  d.p99 = percentile(values, 99);
  return d;
}

BenchSummary summarize_results(const std::vector<RequestResult>& results, double duration_s) {
  BenchSummary s;
  s.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2el;
  for (const auto& r : results) {
    if (!r.ok) {
      ++s.failed;
      if (s.first_errors.size() < 5) s.first_errors.push_back(r.error);
      continue;
    }
    ++s.completed;
    s.input_tokens += r.prompt_tokens;
    s.output_tokens += r.output_tokens;
    ttft.push_back(r.ttft_s * 1e3);
    e2el.push_back(r.latency_s * 1e3);
    if (r.output_tokens > 1) {
      tpot.push_back((r.latency_s - r.ttft_s) * 1e3 / static_cast<double>(r.output_tokens - 1));
    }
    for (double gap : r.itl_s) itl.push_back(gap * 1e3);
  }
  if (duration_s > 0) {
    s.request_throughput = static_cast<double>(s.completed) / duration_s;
    s.output_throughput = static_cast<double>(s.output_tokens) / duration_s;
    s.total_token_throughput = static_cast<double>(s.input_tokens + s.output_tokens) / duration_s;
  }
  s.ttft_ms = summarize(std::move(ttft));
  s.tpot_ms = summarize(std::move(tpot));
  s.itl_ms = summarize(std::move(itl));
  s.e2el_ms = summarize(std::move(e2el));
  return s;
}

std::string format_table(const BenchSummary& s) {
  std::string out = std::string(12, '=') + " Serving Benchmark Result " + std::string(12, '=') + "\n";
  out += line("Successful requests:", static_cast<double>(s.completed), "%.0f");
  out += line("Failed requests:", static_cast<double>(s.failed), "%.0f");
  out += line("Benchmark duration (s):", s.duration_s);
  out += line("Total input tokens:", static_cast<double>(s.input_tokens), "%.0f");
  out += line("Total generated tokens:", static_cast<double>(s.output_tokens), "%.0f");
  out += line("Request throughput (req/s):", s.request_throughput);
  out += line("Output token throughput (tok/s):", s.output_throughput);
  out += line("Total token throughput (tok/s):", s.total_token_throughput);
  out += section("Time to First Token") + distribution_lines("TTFT", s.ttft_ms);
  out += section("Time per Output Token (excl. 1st token)") + distribution_lines("TPOT", s.tpot_ms);
  out += section("Inter-token Latency") + distribution_lines("ITL", s.itl_ms);
  out += section("End-to-end Latency") + distribution_lines("E2EL", s.e2el_ms);
  out += std::string(50, '=') + "\n";
  for (const auto& e : s.first_errors) out += "error: " + e + "\n";
  return out;
}

nlohmann::json summary_json(const BenchSummary& s) {
  return {{"completed", s.completed},
          {"failed", s.failed},
          {"duration_s", s.duration_s},
          {"total_input_tokens", s.input_tokens},
          {"total_output_tokens", s.output_tokens},
          {"request_throughput", s.request_throughput},
          {"output_throughput", s.output_throughput},
          {"total_token_throughput", s.total_token_throughput},
          {"ttft_ms", distribution_json(s.ttft_ms)},
          {"tpot_ms", distribution_json(s.tpot_ms)},
          {"itl_ms", distribution_json(s.itl_ms)},
          {"e2el_ms", distribution_json(s.e2el_ms)},
          {"errors", s.first_errors}};
}

}  // namespace mixserve::bench
