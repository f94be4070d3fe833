// Block sharing on a FakeReplica: prefix-cache hits, n > 1 choices over their prompt's blocks, and a storm of
// requests with random cancels that must leave every block free.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "coordinator/metrics/registry.h"
#include "scheduler_test_util.h"
#include "test_support.h"

namespace mixserve {
namespace {

using test::FakeReplica;
using test::make_request;
using test::RecordingSink;

TEST(SchedulerSharing, PrefixCacheHitsGiveIdenticalTokens) {
  metrics::Registry registry;
  ServingMetrics serving(registry);
  ReplicaMetrics rm(serving, "m", "0");
  auto rng = test::make_rng(21);
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  FakeReplica replica({.n_blocks = 64, .block_size = 4});
  Scheduler s(replica, {}, &rm);
  const auto shared = test::random_prompt(rng, 24, 1000);  // six full blocks
  auto pa = shared, pb = shared;
  pa.push_back(1);
  pa.push_back(2);
  pb.push_back(3);
  auto a = std::make_shared<RecordingSink>(), b = std::make_shared<RecordingSink>();
  ASSERT_TRUE(s.submit(make_request("a", pa, 5), a).ok());
  test::run_until_idle(s);
  const int64_t steps_a = replica.n_steps();
  ASSERT_TRUE(s.submit(make_request("b", pb, 5), b).ok());
  test::run_until_idle(s);
  EXPECT_EQ(a->choice(0).tokens, test::fake_expected_tokens(pa, 0, 5, 1000));
  EXPECT_EQ(b->choice(0).tokens, test::fake_expected_tokens(pb, 0, 5, 1000));
  const auto first_b = replica.steps()[static_cast<size_t>(steps_a)][0];
  EXPECT_EQ(first_b.start_pos, 24);  // only the tail was computed
  EXPECT_EQ(first_b.n_prefix_tokens, 24u);
  EXPECT_EQ(rm.prefix_cache_hits_total.value(), 24);
  EXPECT_EQ(rm.prefix_cache_queries_total.value(), static_cast<double>(pa.size() + pb.size()));
  EXPECT_EQ(s.stats().n_blocks_used, 0);
}

TEST(SchedulerSharing, WithoutPrefixCachingRequestsDoNotShare) {
  FakeReplica replica({.n_blocks = 64, .block_size = 4});
  Scheduler s(replica, {.prefix_caching = false}, nullptr);
  const std::vector<int32_t> p(17, 9);
  for (const char* id : {"a", "b"}) {
    auto sink = std::make_shared<RecordingSink>();
    ASSERT_TRUE(s.submit(make_request(id, p, 3), sink).ok());
    test::run_until_idle(s);
    EXPECT_EQ(sink->choice(0).tokens, test::fake_expected_tokens(p, 0, 3, 1000));
  }
  for (const auto& step : replica.steps())
    for (const auto& e : step) EXPECT_EQ(e.n_prefix_tokens, 0u);
}

// n = 2: choice 1 starts from choice 0's full prompt blocks (same block ids) and computes only the tail.
TEST(SchedulerSharing, ChoicesShareThePromptsFullBlocks) {
  for (bool prefix_caching : {true, false}) {
    SCOPED_TRACE(prefix_caching ? "prefix caching on" : "prefix caching off");
    FakeReplica replica({.n_blocks = 64, .block_size = 4});
    Scheduler s(replica, {.prefix_caching = prefix_caching}, nullptr);
    std::vector<int32_t> prompt(18);
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(i * 7 % 1000);
    auto sink = std::make_shared<RecordingSink>(2);
    ASSERT_TRUE(s.submit(make_request("n2", prompt, 6, 2, 100), sink).ok());
    test::run_until_idle(s);
    EXPECT_EQ(sink->choice(0).tokens, test::fake_expected_tokens(prompt, 100, 6, 1000));
    EXPECT_EQ(sink->choice(1).tokens, test::fake_expected_tokens(prompt, 101, 6, 1000));
    EXPECT_NE(sink->choice(0).tokens, sink->choice(1).tokens);
    std::map<uint64_t, test::FakeReplica::PlannedSequence> first;
    for (const auto& step : replica.steps())
      for (const auto& e : step) first.emplace(e.seq_id, e);
    ASSERT_EQ(first.size(), 2u);
    const auto& c0 = first.at(1);
    const auto& c1 = first.at(2);
    EXPECT_EQ(c0.start_pos, 0);
    EXPECT_EQ(c1.start_pos, 16);  // four shared blocks; the block with the last prompt token is its own
    EXPECT_EQ(c1.n_tokens, 2);
    ASSERT_GE(c1.block_table.size(), 5u);
    EXPECT_EQ(std::vector<int32_t>(c1.block_table.begin(), c1.block_table.begin() + 4),
              std::vector<int32_t>(c0.block_table.begin(), c0.block_table.begin() + 4));
    EXPECT_EQ(s.stats().n_blocks_used, 0);
  }
}

// Many requests (n up to 3) on a small pool, with random cancels of whole requests and single choices between
// steps: every choice finishes exactly once, cancellation lands at the next step, uncancelled choices have
// the oracle's tokens, cancelled ones a prefix of them, and in the end every block is free.
TEST(SchedulerSharing, CancelStormLeaksNoBlocks) {
  auto rng = test::make_rng(23);
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  FakeReplica replica({.n_blocks = 24, .block_size = 4});
  Scheduler s(replica, {.max_batch_tokens = 32, .max_running = 16, .max_waiting = 1000}, nullptr);
  struct Live {
    GenerationRequest request;
    std::shared_ptr<RecordingSink> sink;
  };
  std::vector<Live> all;
  std::set<std::pair<size_t, int>> cancelled;  // (request, choice), choice -1 for all
  for (int round = 0; round < 300; ++round) {
    if (rng() % 2 == 0 && all.size() < 150) {
      const int n = 1 + static_cast<int>(rng() % 3);
      // Prompts from a few shared stems so that prefix hits and preemptions both happen.
      auto prompt = std::vector<int32_t>(4 * (rng() % 4), static_cast<int32_t>(rng() % 2));
      const auto tail = test::random_prompt(rng, 1 + rng() % 9, 1000);
      prompt.insert(prompt.end(), tail.begin(), tail.end());
      auto r = make_request("r" + std::to_string(all.size()), prompt, 1 + rng() % 16, n, rng());
      auto sink = std::make_shared<RecordingSink>(n);
      ASSERT_TRUE(s.submit(r, sink).ok());
      all.push_back({r, sink});
    }
    if (!all.empty() && rng() % 3 == 0) {
      const size_t i = rng() % all.size();
      const int choice = rng() % 2 == 0 ? -1 : static_cast<int>(rng() % static_cast<uint64_t>(all[i].request.n));
      s.cancel(all[i].request.request_id, choice);
      s.step();
      // Within one step: everything cancelled has finished.
      for (int c = 0; c < all[i].request.n; ++c) {
        if (choice < 0 || choice == c) {
          EXPECT_EQ(all[i].sink->choice(c).n_finished, 1);
        }
      }
      cancelled.insert({i, choice});
    } else {
      s.step();
    }
  }
  test::run_until_idle(s);
  int n_cancelled = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& r = all[i].request;
    for (int c = 0; c < r.n; ++c) {
      const auto ch = all[i].sink->choice(c);
      ASSERT_EQ(ch.n_finished, 1) << r.request_id << " choice " << c;
      const auto expected = test::fake_expected_tokens(r.prompt, r.sampling.seed + c, r.max_tokens, 1000);
      if (ch.reason == FinishReason::cancelled) {
        ++n_cancelled;
        EXPECT_TRUE(cancelled.contains({i, -1}) || cancelled.contains({i, c}));
        ASSERT_LE(ch.tokens.size(), expected.size());
        EXPECT_TRUE(std::equal(ch.tokens.begin(), ch.tokens.end(), expected.begin())) << r.request_id;
      } else {
        EXPECT_EQ(ch.reason, FinishReason::length);
        EXPECT_EQ(ch.tokens, expected) << r.request_id << " choice " << c;
      }
    }
  }
  EXPECT_GT(n_cancelled, 0);
  const SchedulerStats st = s.stats();
  EXPECT_EQ(st.n_blocks_used, 0);
  EXPECT_EQ(st.n_live_requests, 0);
  EXPECT_EQ(st.n_running + st.n_waiting, 0);
  EXPECT_EQ(st.outstanding_tokens, 0);
  EXPECT_EQ(replica.n_live_histories(), 0u);
}

}  // namespace
}  // namespace mixserve
