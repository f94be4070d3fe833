// `mixserve bench`'s parts: the statistics, the workload (lengths, arrivals), URL parsing, and a whole run
// against the in-process server (counts, concurrency cap, timings that must be positive and ordered).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "coordinator/bench/bench_runner.h"
#include "coordinator/bench/bench_stats.h"
#include "coordinator/bench/workload.h"
#include "http_test_support.h"
#include "test_support.h"

namespace mixserve::test {
namespace {

TEST(HttpBench, PercentilesInterpolateLikeNumpy) {
  auto rng = make_rng(30);
  const std::vector<float> draws = random_uniform(101, rng, 0.0f, 1.0f);
  std::vector<double> values(draws.begin(), draws.end());
  std::sort(values.begin(), values.end());
  EXPECT_DOUBLE_EQ(bench::percentile(values, 50), values[50]);
  EXPECT_DOUBLE_EQ(bench::percentile(values, 99), values[99]);
  EXPECT_DOUBLE_EQ(bench::percentile({1.0, 2.0, 3.0, 4.0}, 50), 2.5);
  EXPECT_DOUBLE_EQ(bench::percentile({1.0, 2.0}, 99), 1.99);
  const bench::Distribution d = bench::summarize({3.0, 1.0, 2.0});
  EXPECT_DOUBLE_EQ(d.mean, 2.0);
  EXPECT_DOUBLE_EQ(d.median, 2.0);
  EXPECT_EQ(d.n, 3);
}

TEST(HttpBench, TpotExcludesTheFirstTokenAndSingleTokenRequests) {
  bench::RequestResult a{.ok = true, .ttft_s = 0.1, .latency_s = 1.1, .itl_s = {0.5, 0.5}, .output_tokens = 3};
  bench::RequestResult b{.ok = true, .ttft_s = 0.2, .latency_s = 0.2, .output_tokens = 1};
  bench::RequestResult c{.ok = false, .error = "HTTP 503"};
  const bench::BenchSummary s = bench::summarize_results({a, b, c}, 2.0);
  EXPECT_EQ(s.completed, 2);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.tpot_ms.n, 1);
  EXPECT_NEAR(s.tpot_ms.mean, 500.0, 1e-9);  // (1.1 - 0.1) / (3 - 1)
  EXPECT_EQ(s.itl_ms.n, 2);
  EXPECT_NEAR(s.ttft_ms.mean, 150.0, 1e-9);
  EXPECT_DOUBLE_EQ(s.output_throughput, 2.0);
  EXPECT_NE(bench::format_table(s).find("Mean TPOT (ms):"), std::string::npos);
  EXPECT_EQ(bench::summary_json(s)["failed"], 1);
}

TEST(HttpBench, WorkloadLengthsAndPoissonArrivals) {
  bench::WorkloadOptions o;
  o.num_prompts = 4000;
  o.random_input_len = 10;
  o.random_output_len = 20;
  o.random_range_ratio = 0.5;
  o.request_rate = 50;
  o.seed = make_rng(31)();
  auto requests = bench::make_workload(o);
  ASSERT_TRUE(requests.ok()) << requests.status().to_string();
  double last = 0;
  for (const auto& r : *requests) {
    EXPECT_EQ(static_cast<int64_t>(r.prompt_ids.size()), r.prompt_len);
    EXPECT_GE(r.prompt_len, 5);
    EXPECT_LE(r.prompt_len, 15);
    EXPECT_GE(r.max_tokens, 10);
    EXPECT_LE(r.max_tokens, 30);
    EXPECT_GE(r.arrival_s, last);
    last = r.arrival_s;
  }
  // 3999 exponential gaps of mean 20 ms: the mean is within a few standard errors (0.32 ms) of 20 ms.
  EXPECT_NEAR(last / 3999.0, 0.02, 0.0015);
  o.request_rate = std::numeric_limits<double>::infinity();
  EXPECT_EQ(bench::make_workload(o)->back().arrival_s, 0.0);
  o.burstiness = 0;
  EXPECT_FALSE(bench::make_workload(o).ok());
}

TEST(HttpBench, ParsesUrls) {
  auto t = bench::parse_url("http://10.0.0.1:9000");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "10.0.0.1");
  EXPECT_EQ(t->port, "9000");
  EXPECT_EQ(t->path, "/v1/completions");
  EXPECT_EQ(bench::parse_url("http://h:1/v1")->path, "/v1/completions");
  EXPECT_EQ(bench::parse_url("http://h:1/custom/path")->path, "/custom/path");
  EXPECT_FALSE(bench::parse_url("https://h:1").ok());
}

TEST(HttpBench, RunAgainstTheServerRespectsConcurrency) {
  FakeScript script;
  script.step = std::chrono::milliseconds(2);
  TestServer server(script);
  bench::WorkloadOptions w;
  w.num_prompts = 24;
  w.random_input_len = 8;
  w.random_output_len = 6;
  w.token_id_min = 0;
  w.token_id_max = 256;
  w.seed = make_rng(32)();
  auto requests = bench::make_workload(w);
  ASSERT_TRUE(requests.ok());
  bench::BenchOptions options;
  options.target = *bench::parse_url("http://127.0.0.1:" + std::to_string(server.port()));
  options.model = "test-model";
  options.max_concurrency = 3;
  options.ignore_eos = true;
  const bench::BenchRun run = bench::run_bench(options, *requests);
  const bench::BenchSummary s = bench::summarize_results(run.results, run.duration_s);
  EXPECT_EQ(s.completed, 24) << (s.first_errors.empty() ? "" : s.first_errors[0]);
  EXPECT_EQ(s.output_tokens, 24 * 6);
  EXPECT_EQ(s.input_tokens, 24 * 8);
  // The most requests in flight at once, from the client's own send and [DONE] times.
  std::vector<std::pair<double, int>> edges;
  for (const auto& r : run.results) {
    edges.emplace_back(r.start_s, 1);
    edges.emplace_back(r.start_s + r.latency_s, -1);
  }
  std::sort(edges.begin(), edges.end());  // at equal times an end (-1) sorts before a start
  int in_flight = 0, peak = 0;
  for (const auto& [t, delta] : edges) peak = std::max(peak, in_flight += delta);
  EXPECT_LE(peak, 3);
  EXPECT_GE(peak, 2);
  for (const auto& r : run.results) {
    EXPECT_GT(r.ttft_s, 0);
    EXPECT_GE(r.latency_s, r.ttft_s);
    EXPECT_EQ(r.itl_s.size(), 5u);  // six one-byte tokens: six chunks with text
  }
  // The server saw exactly what the workload asked for.
  const auto submitted = server.engine().submitted();
  ASSERT_EQ(submitted.size(), 24u);
  EXPECT_TRUE(submitted[0].eos_ids.empty());
  EXPECT_EQ(submitted[0].max_tokens, 6);
  EXPECT_FLOAT_EQ(submitted[0].sampling.temperature, 0.0f);
}

TEST(HttpBench, FailedRequestsAreCountedWithTheirReason) {
  TestServer server;
  server.engine().refuse_with({StatusCode::resource_exhausted, "queue full"});
  bench::WorkloadOptions w;
  w.num_prompts = 3;
  w.random_input_len = 4;
  w.random_output_len = 2;
  w.token_id_min = 0;
  w.token_id_max = 256;
  bench::BenchOptions options;
  options.target = *bench::parse_url("http://127.0.0.1:" + std::to_string(server.port()));
  options.model = "test-model";
  const bench::BenchRun run = bench::run_bench(options, *bench::make_workload(w));
  const bench::BenchSummary s = bench::summarize_results(run.results, run.duration_s);
  EXPECT_EQ(s.failed, 3);
  ASSERT_FALSE(s.first_errors.empty());
  EXPECT_NE(s.first_errors[0].find("HTTP 429"), std::string::npos) << s.first_errors[0];
}

}  // namespace
}  // namespace mixserve::test
