// Preemption by recompute on a FakeReplica: a pool too small for the batch still completes every request with
// the tokens of a large pool, and a preempted sequence runs again before anything that arrived after it.
#include <gtest/gtest.h>

#include <map>

#include "coordinator/metrics/registry.h"
#include "scheduler_test_util.h"
#include "test_support.h"

namespace mixserve {
namespace {

using test::FakeReplica;
using test::make_request;
using test::RecordingSink;

std::vector<std::vector<int32_t>> run_all(const std::vector<GenerationRequest>& requests, int64_t n_blocks,
                                          double* preemptions) {
  metrics::Registry registry;
  ServingMetrics serving(registry);
  ReplicaMetrics rm(serving, "m", "0");
  FakeReplica replica({.n_blocks = n_blocks, .block_size = 4});
  Scheduler s(replica, {.max_batch_tokens = 24, .max_running = 8}, &rm);
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (const auto& r : requests) {
    sinks.push_back(std::make_shared<RecordingSink>(r.n));
    EXPECT_TRUE(s.submit(r, sinks.back()).ok());
  }
  test::run_until_idle(s);
  EXPECT_EQ(s.stats().n_blocks_used, 0);
  EXPECT_EQ(replica.n_live_histories(), 0u);
  *preemptions = rm.num_preemptions_total.value();
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < sinks.size(); ++i) {
    for (int c = 0; c < requests[i].n; ++c) {
      const auto ch = sinks[i]->choice(c);
      EXPECT_EQ(ch.n_finished, 1);
      EXPECT_EQ(ch.reason, FinishReason::length) << ch.status.to_string();
      out.push_back(ch.tokens);
    }
  }
  return out;
}

TEST(SchedulerPreemption, TinyPoolCompletesEveryRequestWithTheTokensOfALargeOne) {
  auto rng = test::make_rng(31);
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 10; ++i) {
    // Each choice alone needs up to 6 blocks (prompt + max_tokens - 1 <= 24 tokens).
    requests.push_back(make_request("r" + std::to_string(i), test::random_prompt(rng, 4 + rng() % 7, 1000),
                                    8 + rng() % 7, 1 + static_cast<int>(rng() % 2), rng()));
  }
  double preempt_small = 0, preempt_large = 0;
  const auto small = run_all(requests, 6, &preempt_small);
  const auto large = run_all(requests, 1024, &preempt_large);
  EXPECT_EQ(small, large);
  EXPECT_GT(preempt_small, 0);
  EXPECT_EQ(preempt_large, 0);
  size_t k = 0;
  for (const auto& r : requests)
    for (int c = 0; c < r.n; ++c)
      EXPECT_EQ(small[k++], test::fake_expected_tokens(r.prompt, r.sampling.seed + c, r.max_tokens, 1000));
}

// a and b grow until the pool runs out; b (newer) is preempted and must run again before c, which arrived
// later and waited behind it, even when c alone would fit sooner.
TEST(SchedulerPreemption, PreemptedSequenceRunsAgainBeforeLaterArrivals) {
  FakeReplica replica({.n_blocks = 4, .block_size = 4});
  Scheduler s(replica, {.max_batch_tokens = 64, .max_running = 2}, nullptr);
  auto a = std::make_shared<RecordingSink>(), b = std::make_shared<RecordingSink>(),
       c = std::make_shared<RecordingSink>();
  ASSERT_TRUE(s.submit(make_request("a", {1, 2, 3}, 12), a).ok());  // seq 1
  ASSERT_TRUE(s.submit(make_request("b", {4, 5, 6}, 12), b).ok());  // seq 2
  ASSERT_TRUE(s.submit(make_request("c", {7, 8, 9}, 4), c).ok());   // seq 3
  test::run_until_idle(s);
  const auto steps = replica.steps();
  // Find b's preemption: a step where b is absent although it started before and is not finished.
  size_t b_gone = 0, b_back = 0, c_first = 0;
  bool b_seen = false;
  for (size_t i = 0; i < steps.size(); ++i) {
    bool has_b = false, has_c = false;
    for (const auto& e : steps[i]) {
      has_b |= e.seq_id == 2;
      has_c |= e.seq_id == 3;
    }
    if (has_b && !b_seen) b_seen = true;
    if (b_seen && !has_b && b_gone == 0) b_gone = i;
    if (b_gone > 0 && has_b && b_back == 0) b_back = i;
    if (has_c && c_first == 0) c_first = i;
  }
  ASSERT_GT(b_gone, 0u) << "b was never preempted";
  ASSERT_GT(b_back, b_gone);
  EXPECT_GE(c_first, b_back) << "c ran before the preempted b";
  EXPECT_EQ(b->choice(0).tokens, test::fake_expected_tokens({4, 5, 6}, 0, 12, 1000));
  EXPECT_EQ(c->choice(0).tokens, test::fake_expected_tokens({7, 8, 9}, 0, 4, 1000));
}

}  // namespace
}  // namespace mixserve
