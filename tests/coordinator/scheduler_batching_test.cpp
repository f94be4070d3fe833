// Continuous batching on a FakeReplica: tokens match the oracle under chunked prefill, the token budget
// holds, decodes go before prefills, FCFS admission, the bounded queue, validation and stop conditions.
#include <gtest/gtest.h>

#include <map>

#include "scheduler_test_util.h"
#include "test_support.h"

namespace mixserve {
namespace {

using test::FakeReplica;
using test::make_request;
using test::RecordingSink;

TEST(SchedulerBatching, TokensMatchTheOracleUnderChunkedPrefillAndTheBudgetHolds) {
  auto rng = test::make_rng(11);
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  FakeReplica replica({.n_blocks = 128, .block_size = 4});
  Scheduler s(replica, {.max_batch_tokens = 16, .max_running = 8}, nullptr);
  std::vector<std::pair<GenerationRequest, std::shared_ptr<RecordingSink>>> reqs;
  for (int i = 0; i < 12; ++i) {
    auto r =
        make_request("r" + std::to_string(i), test::random_prompt(rng, 1 + rng() % 40, 1000), 1 + rng() % 12, 1, rng());
    auto sink = std::make_shared<RecordingSink>();
    ASSERT_TRUE(s.submit(r, sink).ok());
    reqs.emplace_back(r, sink);
  }
  test::run_until_idle(s);
  for (const auto& [r, sink] : reqs) {
    const auto c = sink->choice(0);
    EXPECT_EQ(c.n_finished, 1);
    EXPECT_EQ(c.reason, FinishReason::length);
    EXPECT_EQ(c.tokens, test::fake_expected_tokens(r.prompt, r.sampling.seed, r.max_tokens, 1000)) << r.request_id;
  }
  std::map<uint64_t, bool> decoding;  // seq -> has sampled before
  for (const auto& step : replica.steps()) {
    int64_t n_tokens = 0;
    bool seen_non_decode = false;
    for (const auto& p : step) {
      n_tokens += p.n_tokens;
      const bool is_decode = decoding[p.seq_id];
      EXPECT_FALSE(is_decode && seen_non_decode) << "a decode was planned after a prefill chunk";
      seen_non_decode |= !is_decode;
    }
    for (const auto& p : step) decoding[p.seq_id] |= p.sample;
    EXPECT_LE(n_tokens, 16);
  }
  EXPECT_EQ(s.stats().n_blocks_used, 0);
  EXPECT_EQ(replica.n_live_histories(), 0u);  // every finished sequence was released
}

// The first waiting request that does not fit stops admission: a small later request does not overtake it.
TEST(SchedulerBatching, AdmissionIsFirstComeFirstServed) {
  FakeReplica replica({.n_blocks = 8, .block_size = 4});
  Scheduler s(replica, {.max_batch_tokens = 64}, nullptr);
  auto a = std::make_shared<RecordingSink>(), b = std::make_shared<RecordingSink>(),
       c = std::make_shared<RecordingSink>();
  ASSERT_TRUE(s.submit(make_request("a", std::vector<int32_t>(20, 1), 8), a).ok());  // 5 blocks at once
  ASSERT_TRUE(s.submit(make_request("b", std::vector<int32_t>(24, 2), 4), b).ok());  // 6: waits for a
  ASSERT_TRUE(s.submit(make_request("c", std::vector<int32_t>(2, 3), 2), c).ok());   // would fit, must wait
  test::run_until_idle(s);
  std::map<uint64_t, size_t> first_step;
  const auto steps = replica.steps();
  for (size_t i = 0; i < steps.size(); ++i)
    for (const auto& p : steps[i]) first_step.emplace(p.seq_id, i);
  ASSERT_EQ(first_step.size(), 3u);
  EXPECT_LT(first_step[1], first_step[2]);
  EXPECT_LE(first_step[2], first_step[3]) << "c overtook b";
  EXPECT_GT(first_step[2], 0u);  // b really had to wait
  for (auto* sink : {a.get(), b.get(), c.get()}) EXPECT_EQ(sink->choice(0).reason, FinishReason::length);
}

TEST(SchedulerBatching, FullQueueAnswersResourceExhausted) {
  FakeReplica replica({});
  Scheduler s(replica, {.max_waiting = 2}, nullptr);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(s.submit(make_request("a", {1, 2}, 2), sink).ok());
  ASSERT_TRUE(s.submit(make_request("b", {1, 2}, 2), std::make_shared<RecordingSink>()).ok());
  const Status full = s.submit(make_request("c", {1, 2}, 2), std::make_shared<RecordingSink>());
  EXPECT_EQ(full.code(), StatusCode::resource_exhausted) << full.to_string();
  EXPECT_EQ(s.stats().n_queued_requests, 2);
  ASSERT_TRUE(s.step());  // both admitted: the queue has room again
  EXPECT_TRUE(s.submit(make_request("c", {1, 2}, 2), std::make_shared<RecordingSink>()).ok());
  test::run_until_idle(s);
  EXPECT_EQ(sink->choice(0).n_finished, 1);
}

TEST(SchedulerBatching, RequestsThatCanNeverRunAreRefused) {
  FakeReplica replica({.n_blocks = 4, .block_size = 4, .max_model_len = 32, .vocab_size = 50});
  Scheduler s(replica, {}, nullptr);
  auto sink = std::make_shared<RecordingSink>();
  EXPECT_EQ(s.submit(make_request("a", {}, 2), sink).code(), StatusCode::invalid_argument);
  EXPECT_EQ(s.submit(make_request("a", {1}, 0), sink).code(), StatusCode::invalid_argument);
  EXPECT_EQ(s.submit(make_request("a", {1}, 2, 0), sink).code(), StatusCode::invalid_argument);
  EXPECT_EQ(s.submit(make_request("a", {50}, 2), sink).code(), StatusCode::invalid_argument);
  EXPECT_EQ(s.submit(make_request("a", std::vector<int32_t>(30, 1), 3), sink).code(), StatusCode::out_of_range);
  // 16 KV slots: 10 + 7 - 1 computed tokens fit, 10 + 8 - 1 do not.
  EXPECT_TRUE(s.validate(make_request("a", std::vector<int32_t>(10, 1), 7)).ok());
  EXPECT_EQ(s.submit(make_request("a", std::vector<int32_t>(10, 1), 8), sink).code(), StatusCode::out_of_range);
  EXPECT_EQ(s.stats().n_live_requests, 0);
}

TEST(SchedulerBatching, StopsAtEosAndAtTheContextLimit) {
  const int64_t vocab = 1000;
  FakeReplica replica({.max_model_len = 12, .vocab_size = vocab});
  Scheduler s(replica, {}, nullptr);
  const std::vector<int32_t> prompt = {5, 6, 7};
  const auto expected = test::fake_expected_tokens(prompt, 0, 9, vocab);
  auto r = make_request("eos", prompt, 9);
  r.eos_ids = {expected[2]};  // the third token is an EOS: it is kept, then the choice stops
  auto eos = std::make_shared<RecordingSink>(), ctx = std::make_shared<RecordingSink>();
  ASSERT_TRUE(s.submit(r, eos).ok());
  ASSERT_TRUE(s.submit(make_request("ctx", prompt, 9), ctx).ok());  // 3 + 9 == max_model_len
  test::run_until_idle(s);
  const auto first = std::find(expected.begin(), expected.end(), expected[2]) - expected.begin();
  EXPECT_EQ(eos->choice(0).tokens, std::vector<int32_t>(expected.begin(), expected.begin() + first + 1));
  EXPECT_EQ(eos->choice(0).reason, FinishReason::stop);
  EXPECT_EQ(ctx->choice(0).tokens, expected);
  EXPECT_EQ(ctx->choice(0).reason, FinishReason::length);
}

TEST(SchedulerBatching, ReplicaFailureFailsEveryRequestWithItsStatus) {
  FakeReplica replica({.fail_at_step = 3, .name = "fake replica 7"});
  Scheduler s(replica, {.max_batch_tokens = 4}, nullptr);
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 4; ++i) {
    sinks.push_back(std::make_shared<RecordingSink>(2));
    ASSERT_TRUE(s.submit(make_request("r" + std::to_string(i), {1, 2, 3, 4, 5, 6}, 50, 2), sinks.back()).ok());
  }
  for (int i = 0; i < 10; ++i) s.step();
  EXPECT_FALSE(s.up());
  for (const auto& sink : sinks) {
    for (int c = 0; c < 2; ++c) {
      const auto ch = sink->choice(c);
      EXPECT_EQ(ch.n_finished, 1);
      EXPECT_EQ(ch.reason, FinishReason::error);
      EXPECT_EQ(ch.status.code(), StatusCode::unavailable);
      EXPECT_NE(ch.status.message().find("fake replica 7"), std::string::npos) << ch.status.to_string();
    }
  }
  EXPECT_EQ(s.submit(make_request("late", {1}, 1), std::make_shared<RecordingSink>()).code(), StatusCode::unavailable);
  EXPECT_EQ(s.stats().n_live_requests, 0);
}

}  // namespace
}  // namespace mixserve
