// EngineCore over FakeReplicas with real scheduler threads: concurrent clients across replicas, a replica
// that fails, cancel, drain, duplicate ids and the metrics the schedulers keep.
#include "coordinator/serving/engine_core.h"

#include <gtest/gtest.h>

#include <thread>

#include "coordinator/metrics/registry.h"
#include "coordinator/metrics/serving_metrics.h"
#include "scheduler_test_util.h"
#include "test_support.h"

namespace mixserve {
namespace {

using test::FakeReplica;
using test::make_request;
using test::RecordingSink;

struct Fleet {
  std::vector<FakeReplica*> replicas;  // owned by the engine core
  std::unique_ptr<EngineCore> core;
};

Fleet make_fleet(std::vector<test::FakeReplicaOptions> options, const SchedulerOptions& sched,
                 ServingMetrics* metrics = nullptr) {
  Fleet f;
  std::vector<std::unique_ptr<Replica>> owned;
  for (auto& o : options) {
    auto r = std::make_unique<FakeReplica>(o);
    f.replicas.push_back(r.get());
    owned.push_back(std::move(r));
  }
  f.core = make_engine_core(std::move(owned), sched, metrics, "fake-model");
  return f;
}

double sum_samples(const std::string& text, const std::string& prefix) {
  double total = 0;
  size_t pos = 0;
  while ((pos = text.find("\n" + prefix, pos)) != std::string::npos) {
    const size_t eol = text.find('\n', pos + 1);
    const std::string line = text.substr(pos + 1, eol - pos - 1);
    total += std::stod(line.substr(line.rfind(' ') + 1));
    pos = eol;
  }
  return total;
}

TEST(EngineCore, ConcurrentClientsAcrossTwoReplicasGetTheirTokens) {
  metrics::Registry registry;
  ServingMetrics metrics(registry);
  auto fleet = make_fleet({{.name = "fake replica 0"}, {.name = "fake replica 1"}}, {.max_batch_tokens = 64}, &metrics);
  const uint64_t base = test::run_seed();
  SCOPED_TRACE("seed " + std::to_string(base));
  std::vector<std::thread> clients;
  std::atomic<int64_t> generated{0};
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      std::mt19937_64 rng(base + static_cast<uint64_t>(t));
      for (int i = 0; i < 25; ++i) {
        auto r = make_request("c" + std::to_string(t) + "-" + std::to_string(i),
                              test::random_prompt(rng, 1 + rng() % 30, 1000), 1 + rng() % 10, 1, rng());
        auto sink = std::make_shared<RecordingSink>();
        if (!fleet.core->submit(r, sink).ok() || !sink->wait()) {
          ++mismatches;
          continue;
        }
        const auto c = sink->choice(0);
        generated += static_cast<int64_t>(c.tokens.size());
        if (c.tokens != test::fake_expected_tokens(r.prompt, r.sampling.seed, r.max_tokens, 1000)) ++mismatches;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(fleet.replicas[0]->n_steps(), 0);
  EXPECT_GT(fleet.replicas[1]->n_steps(), 0);
  // Sinks hear of a finish inside the step; the step publishes its counts just after: wait for that.
  EngineSnapshot snap = fleet.core->snapshot();
  for (int i = 0; i < 5000 && (snap.n_running + snap.n_waiting > 0 || snap.kv_cache_usage > 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    snap = fleet.core->snapshot();
  }
  EXPECT_EQ(snap.n_replicas_up, 2);
  EXPECT_EQ(snap.n_running + snap.n_waiting, 0);
  EXPECT_EQ(snap.kv_cache_usage, 0);
  const std::string text = registry.render();
  EXPECT_EQ(sum_samples(text, "mixserve_generation_tokens_total{"), static_cast<double>(generated.load())) << text;
  EXPECT_EQ(
      sum_samples(
          text, "mixserve_request_success_total{model_name=\"fake-model\",replica=\"0\",finished_reason=\"length\"}") +
          sum_samples(
              text,
              "mixserve_request_success_total{model_name=\"fake-model\",replica=\"1\",finished_reason=\"length\"}"),
      100);
  EXPECT_EQ(sum_samples(text, "mixserve_num_replicas_up{"), 2);
}

TEST(EngineCore, AFailedReplicaFailsOnlyItsRequests) {
  metrics::Registry registry;
  ServingMetrics metrics(registry);
  auto fleet = make_fleet({{.name = "fake replica 0"}, {.fail_at_step = 3, .name = "fake replica 1"}},
                          {.max_batch_tokens = 8}, &metrics);
  std::vector<std::pair<GenerationRequest, std::shared_ptr<RecordingSink>>> reqs;
  for (int i = 0; i < 20; ++i) {
    auto r = make_request("r" + std::to_string(i), {1, 2, 3, static_cast<int32_t>(i)}, 20);
    auto sink = std::make_shared<RecordingSink>();
    ASSERT_TRUE(fleet.core->submit(r, sink).ok());
    reqs.emplace_back(r, sink);
  }
  int n_ok = 0, n_failed = 0;
  for (const auto& [r, sink] : reqs) {
    ASSERT_TRUE(sink->wait());
    const auto c = sink->choice(0);
    if (c.reason == FinishReason::error) {
      ++n_failed;
      EXPECT_EQ(c.status.code(), StatusCode::unavailable);
      EXPECT_NE(c.status.message().find("fake replica 1"), std::string::npos) << c.status.to_string();
    } else {
      ++n_ok;
      EXPECT_EQ(c.tokens, test::fake_expected_tokens(r.prompt, 0, 20, 1000));
    }
  }
  EXPECT_GT(n_failed, 0);
  EXPECT_GT(n_ok, 0);
  EXPECT_EQ(fleet.core->snapshot().n_replicas_up, 1);
  EXPECT_EQ(metrics.num_replicas_up.with({"fake-model"}).value(), 1);
  // New requests go to the replica that is still up.
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(fleet.core->submit(make_request("after", {9, 9}, 3), sink).ok());
  ASSERT_TRUE(sink->wait());
  EXPECT_EQ(sink->choice(0).reason, FinishReason::length);
}

TEST(EngineCore, CancelDuplicateIdsAndDrain) {
  auto fleet = make_fleet({{.max_model_len = 100000, .name = "fake replica 0"}}, {});
  auto long_sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(fleet.core->submit(make_request("long", {1, 2}, 200), long_sink).ok());
  EXPECT_EQ(fleet.core->submit(make_request("long", {1, 2}, 2), std::make_shared<RecordingSink>()).code(),
            StatusCode::invalid_argument);
  fleet.core->cancel("long");
  fleet.core->cancel("no-such-request");  // ignored
  ASSERT_TRUE(long_sink->wait());
  EXPECT_EQ(long_sink->choice(0).reason, FinishReason::cancelled);
  EXPECT_EQ(long_sink->choice(0).n_finished, 1);
  // The id is free again once the request finished.
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 5; ++i) {
    sinks.push_back(std::make_shared<RecordingSink>());
    ASSERT_TRUE(
        fleet.core->submit(make_request(i == 0 ? "long" : "d" + std::to_string(i), {3, 4}, 30), sinks.back()).ok());
  }
  fleet.core->drain(std::chrono::seconds(30));  // in-flight requests finish normally
  for (const auto& s : sinks) {
    EXPECT_EQ(s->choice(0).n_finished, 1);
    EXPECT_EQ(s->choice(0).reason, FinishReason::length);
  }
  EXPECT_EQ(fleet.core->submit(make_request("late", {1}, 1), std::make_shared<RecordingSink>()).code(),
            StatusCode::unavailable);
}

}  // namespace
}  // namespace mixserve
