// The perplexity math (worker/perplexity.h): NLL of known distributions, the window plan, and the engine
// path against logits computed step by step.
#include "worker/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine_runner.h"
#include "synth_model.h"

namespace mixserve {
namespace {

TEST(Perplexity, TokenNllOfKnownDistributions) {
  const std::vector<float> uniform(8, 0.25f);
  EXPECT_NEAR(token_nll(uniform, 3), std::log(8.0), 1e-12);
  // Logits log(p) for p = (1/2, 1/4, 1/8, 1/8): -log p is exact.
  const std::vector<float> dyadic = {std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.125f)};
  EXPECT_NEAR(token_nll(dyadic, 0), std::log(2.0), 1e-6);
  EXPECT_NEAR(token_nll(dyadic, 1), std::log(4.0), 1e-6);
  EXPECT_NEAR(token_nll(dyadic, 3), std::log(8.0), 1e-6);
  // Shifting every logit changes nothing, also far outside exp's range.
  std::vector<float> shifted = dyadic;
  for (float& x : shifted) x += 1000.0f;
  EXPECT_NEAR(token_nll(shifted, 1), std::log(4.0), 1e-4);  // 1000 + log p rounds at f32 precision
}

TEST(Perplexity, PerplexityOfAUniformModelIsTheVocabularySize) {
  NllSum sum;
  for (int i = 0; i < 100; ++i) sum += {.nll = std::log(7.0), .n_scored = 1};
  EXPECT_EQ(sum.n_scored, 100);
  EXPECT_NEAR(sum.perplexity(), 7.0, 1e-9);
  EXPECT_EQ(NllSum{}.mean(), 0.0);
}

TEST(Perplexity, DisjointWindowsScoreFromTheirSecondToken) {
  const auto w = plan_windows(10, 4, 4);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].begin, 0);
  EXPECT_EQ(w[0].end, 4);
  EXPECT_EQ(w[0].score_begin, 1);
  EXPECT_EQ(w[1].begin, 4);
  EXPECT_EQ(w[1].score_begin, 5);
  EXPECT_EQ(w[2].begin, 8);
  EXPECT_EQ(w[2].end, 10);
  EXPECT_EQ(w[2].score_begin, 9);
}

TEST(Perplexity, SlidingWindowsScoreOnlyNewTokens) {
  const auto w = plan_windows(10, 4, 2);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[1].begin, 2);
  EXPECT_EQ(w[1].end, 6);
  EXPECT_EQ(w[1].score_begin, 4);  // tokens 1..3 were scored by the first window
  EXPECT_EQ(w[3].end, 10);
  EXPECT_EQ(w[3].score_begin, 8);
}

// Each token is scored at most once; unscored are token 0 and, with disjoint windows, each window's first.
TEST(Perplexity, EveryTokenIsScoredOnceButWindowStarts) {
  for (int64_t n : {1, 2, 3, 17, 64, 65})
    for (int64_t context : {2, 5, 16})
      for (int64_t stride = 1; stride <= context; ++stride) {
        std::vector<int> times(n, 0);
        for (const TokenWindow& w : plan_windows(n, context, stride)) {
          ASSERT_LE(w.end - w.begin, context);
          ASSERT_GT(w.score_begin, w.begin);
          for (int64_t t = w.score_begin; t < w.end; ++t) ++times[t];
        }
        for (int64_t t = 0; t < n; ++t)
          ASSERT_EQ(times[t], t == 0 || (stride == context && t % context == 0) ? 0 : 1)
              << "n=" << n << " context=" << context << " stride=" << stride << " t=" << t;
      }
}

EngineOptions f32_options() { return test::f32_engine_options(256); }

// The NLL the windows imply, from logits of each window computed token by token through the cache.
NllSum reference_nll(Engine& engine, const std::vector<int32_t>& tokens, int64_t context, int64_t stride) {
  const int64_t vocab = engine.config().vocab_size;
  NllSum sum;
  for (const TokenWindow& w : plan_windows(static_cast<int64_t>(tokens.size()), context, stride)) {
    const std::vector<int32_t> window(tokens.begin() + w.begin, tokens.begin() + w.end);
    const auto logits = test::logits_for_sequence(engine, window, 1, 1);  // one token per step
    for (int64_t t = w.score_begin; t < w.end; ++t) {
      const int64_t row = t - 1 - w.begin;
      sum += {.nll = token_nll(std::span(logits).subspan(row * vocab, vocab), tokens[t]), .n_scored = 1};
    }
  }
  return sum;
}

TEST(Perplexity, EngineMatchesStepByStepLogitsForAnyChunkingAndStride) {
  auto engine = test::load_engine(test::synth_model_dir("tiny", 7), f32_options());
  ASSERT_TRUE(engine);
  const auto tokens = test::some_tokens(45, engine->config().vocab_size, 5);
  for (auto [context, stride, chunk] : {std::tuple{16, 16, 16}, {16, 16, 5}, {16, 6, 7}, {45, 45, 256}}) {
    const NllSum expected = reference_nll(*engine, tokens, context, stride);
    auto got = evaluate_perplexity(*engine, tokens, {.context = context, .stride = stride, .chunk_tokens = chunk});
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(got->n_scored, stride == context && context < 45 ? 42 : 44);  // 3 disjoint windows skip 3 starts
    EXPECT_EQ(got->n_scored, expected.n_scored);
    EXPECT_NEAR(got->nll, expected.nll, 1e-4 * expected.nll) << context << " " << stride << " " << chunk;
  }
  EXPECT_EQ(engine->executor().n_live_sequences(), 0u);
}

TEST(Perplexity, RejectsWindowsTheModelCannotHold) {
  auto engine = test::load_engine(test::synth_model_dir("tiny", 7), f32_options());
  ASSERT_TRUE(engine);
  const std::vector<int32_t> tokens = {1, 2, 3, 4};
  const int64_t max = engine->config().max_position_embeddings;
  EXPECT_FALSE(evaluate_perplexity(*engine, tokens, {.context = max + 1, .stride = 1}).ok());
  EXPECT_FALSE(evaluate_perplexity(*engine, tokens, {.context = 4, .stride = 5}).ok());
  EXPECT_FALSE(evaluate_perplexity(*engine, tokens, {.context = 1, .stride = 1}).ok());
  EXPECT_FALSE(evaluate_perplexity(*engine, std::vector<int32_t>{1}, {.context = 4, .stride = 4}).ok());
}

}  // namespace
}  // namespace mixserve
