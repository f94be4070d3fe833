// The serving core (coordinator/) over an InProcessReplica on the synthetic tiny model: what the scheduler
// does with blocks (prefix-cache hits, n > 1 sharing, preemption in a tiny pool) must not change a token
// against generate_tokens(), which runs each request alone.
#include <gtest/gtest.h>

#include <thread>

#include "../coordinator/recording_sink.h"
#include "coordinator/metrics/registry.h"
#include "coordinator/metrics/serving_metrics.h"
#include "coordinator/serving/engine_core.h"
#include "engine_runner.h"
#include "synth_model.h"
#include "test_support.h"
#include "worker/in_process_replica.h"

namespace mixserve {
namespace {


GenerationRequest request(const std::string& id, std::vector<int32_t> prompt, int64_t max_tokens,
                          const cpu::SamplingParams& sampling, int n = 1) {
  GenerationRequest r;
  r.request_id = id;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling = sampling;
  r.n = n;
  return r;
}

std::vector<int32_t> reference(Engine& engine, const GenerationRequest& r, int choice) {
  GenerateRequest g{.prompt = r.prompt, .max_tokens = r.max_tokens, .sampling = r.sampling};
  g.sampling.seed += static_cast<uint64_t>(choice);
  auto out = generate_tokens(engine, g);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  return out.ok() ? out.value() : std::vector<int32_t>{};
}

struct Served {
  metrics::Registry registry;
  ServingMetrics metrics{registry};
  std::unique_ptr<EngineCore> core;
  Served(Engine& engine, const SchedulerOptions& options) {
    std::vector<std::unique_ptr<Replica>> replicas;
    replicas.push_back(std::make_unique<InProcessReplica>(engine));
    core = make_engine_core(std::move(replicas), options, &metrics, "tiny");
  }
  ~Served() { core.reset(); }
  double counter(metrics::CounterFamily& f) { return f.with({"tiny", "0"}).value(); }
};

// Submits all, waits for all; every choice must finish with `length` and the reference tokens.
void serve_and_check(Served& served, Engine& engine, const std::vector<GenerationRequest>& requests,
                     const std::vector<std::vector<std::vector<int32_t>>>& expected) {
  std::vector<std::shared_ptr<test::RecordingSink>> sinks;
  for (const auto& r : requests) {
    sinks.push_back(std::make_shared<test::RecordingSink>(r.n));
    ASSERT_TRUE(served.core->submit(r, sinks.back()).ok());
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(sinks[i]->wait());
    for (int c = 0; c < requests[i].n; ++c) {
      const auto ch = sinks[i]->choice(c);
      EXPECT_EQ(ch.reason, FinishReason::length) << ch.status.to_string();
      EXPECT_EQ(ch.tokens, expected[i][static_cast<size_t>(c)]) << requests[i].request_id << " choice " << c;
    }
  }
  (void)engine;
}

TEST(ServingInProcess, PrefixCacheHitsAndPenaltiesGiveTheTokensOfSeparateRuns) {
  auto engine = test::load_engine(test::synth_model_dir("tiny", 7), test::f32_engine_options(4096));
  ASSERT_TRUE(engine);
  auto rng = test::make_rng(51);
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  const int64_t vocab = engine->config().vocab_size;
  const auto stem = test::some_tokens(40, vocab, rng());  // two full blocks and a bit
  cpu::SamplingParams greedy{.temperature = 0.0f, .repetition_penalty = 1.3f, .frequency_penalty = 0.5f};
  std::vector<GenerationRequest> first, rest;
  first.push_back(request("stem", stem, 6, greedy));
  for (int i = 0; i < 4; ++i) {
    auto p = stem;
    const auto tail = test::some_tokens(1 + static_cast<int64_t>(rng() % 20), vocab, rng());
    p.insert(p.end(), tail.begin(), tail.end());
    rest.push_back(request("r" + std::to_string(i), p, 6, greedy));
  }
  std::vector<std::vector<std::vector<int32_t>>> want_first, want_rest;
  for (const auto& r : first) want_first.push_back({reference(*engine, r, 0)});
  for (const auto& r : rest) want_rest.push_back({reference(*engine, r, 0)});
  Served served(*engine, {.max_batch_tokens = 64});
  serve_and_check(served, *engine, first, want_first);  // fills the cache
  serve_and_check(served, *engine, rest, want_rest);    // hits it
  EXPECT_GE(served.counter(served.metrics.prefix_cache_hits_total), 4 * 32.0);
}

TEST(ServingInProcess, TwoSeededChoicesMatchTheirSeparateRuns) {
  auto engine = test::load_engine(test::synth_model_dir("tiny", 7), test::f32_engine_options(4096));
  ASSERT_TRUE(engine);
  auto rng = test::make_rng(52);
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  cpu::SamplingParams sampled{.temperature = 0.8f, .top_p = 0.9f, .seed = rng()};
  const auto r = request("n2", test::some_tokens(37, engine->config().vocab_size, rng()), 10, sampled, 2);
  const std::vector<std::vector<std::vector<int32_t>>> want = {{reference(*engine, r, 0), reference(*engine, r, 1)}};
  Served served(*engine, {});
  serve_and_check(served, *engine, {r}, want);
  EXPECT_NE(want[0][0], want[0][1]);
  EXPECT_EQ(served.counter(served.metrics.prefix_cache_hits_total), 32);  // choice 1 reused two blocks
}

TEST(ServingInProcess, TinyKvPoolPreemptsAndStillGivesTheSameGreedyTokens) {
  auto engine = test::load_engine(test::synth_model_dir("tiny", 7), test::f32_engine_options(5 * 16));
  ASSERT_TRUE(engine);
  auto rng = test::make_rng(53);
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  cpu::SamplingParams greedy{.temperature = 0.0f};
  std::vector<GenerationRequest> requests;
  std::vector<std::vector<std::vector<int32_t>>> want;
  for (int i = 0; i < 6; ++i) {
    // Prompts end two tokens short of a block boundary, so every sequence soon needs one more block: the
    // first three take four of the five blocks and all grow past them.
    const int64_t n_prompt = i % 3 == 0 ? 30 : 14;
    requests.push_back(
        request("r" + std::to_string(i), test::some_tokens(n_prompt, engine->config().vocab_size, rng()), 12, greedy));
    want.push_back({reference(*engine, requests.back(), 0)});
  }
  Served served(*engine, {});
  serve_and_check(served, *engine, requests, want);
  EXPECT_GT(served.counter(served.metrics.num_preemptions_total), 0);
  // The step publishes its counts just after the sinks heard the last finish.
  for (int i = 0; i < 5000 && served.core->snapshot().kv_cache_usage > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(served.core->snapshot().kv_cache_usage, 0);
}

// SequenceStep::prefix_tokens: a sequence the executor has never seen may start at start_pos > 0 on blocks
// that already hold the prefix's KV; the count must match start_pos.
TEST(ServingInProcess, ExecutorAcceptsPrefixTokensOnlyWhenTheyCoverTheStart) {
  auto engine = test::load_engine(test::synth_model_dir("tiny", 7), test::f32_engine_options(256));
  ASSERT_TRUE(engine);
  const auto tokens = test::some_tokens(20, engine->config().vocab_size, 5);
  // Sequence 1 computes the first 16 tokens into block 0.
  SequenceStep first{.seq_id = 1,
                     .tokens = std::vector<int32_t>(tokens.begin(), tokens.begin() + 16),
                     .start_pos = 0,
                     .block_table = {0},
                     .sample = false};
  ASSERT_TRUE(engine->executor().step({.sequences = {first}}).ok());
  // Sequence 2 shares block 0 and computes the rest in block 1.
  SequenceStep rest{.seq_id = 2,
                    .tokens = std::vector<int32_t>(tokens.begin() + 16, tokens.end()),
                    .start_pos = 16,
                    .block_table = {0, 1},
                    .sample = true,
                    .sampling = {.temperature = 0.0f}};
  EXPECT_EQ(engine->executor().step({.sequences = {rest}}).status().code(), StatusCode::invalid_argument);
  rest.prefix_tokens.assign(tokens.begin(), tokens.begin() + 15);  // one short
  EXPECT_EQ(engine->executor().step({.sequences = {rest}}).status().code(), StatusCode::invalid_argument);
  rest.prefix_tokens.assign(tokens.begin(), tokens.begin() + 16);
  auto out = engine->executor().step({.sequences = {rest}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  GenerationRequest whole = request("w", tokens, 1, {.temperature = 0.0f});
  engine->executor().release(1);
  engine->executor().release(2);
  EXPECT_EQ(out.value()[0].sample->token, reference(*engine, whole, 0)[0]);
}

}  // namespace
}  // namespace mixserve
