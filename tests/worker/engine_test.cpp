// The engine on synthetic checkpoints: batching, chunking and tensor parallelism must not change the math;
// quantized formats stay within their documented error of the f32 path.
#include <gtest/gtest.h>

#include "engine_runner.h"
#include "synth_model.h"
#include "test_support.h"

namespace mixserve {
namespace {

constexpr uint64_t kSeed = 7;

EngineOptions f32_options() { return test::f32_engine_options(1024); }

TEST(Engine, ChunkedPrefillAndDecodeMatchOneShotPrefill) {
  for (const char* preset : {"tiny", "qwen2-tiny"}) {
    auto engine = test::load_engine(test::synth_model_dir(preset, kSeed), f32_options());
    ASSERT_TRUE(engine);
    const auto tokens = test::some_tokens(40, engine->config().vocab_size, 1);
    const auto one_shot = test::logits_for_sequence(*engine, tokens, 40, 40);
    const auto chunked = test::logits_for_sequence(*engine, tokens, 32, 5);  // 5-token chunks, then 8 decodes
    ASSERT_EQ(one_shot.size(), chunked.size());
    EXPECT_LT(test::relative_frobenius_error(chunked, one_shot), 1e-5) << preset;
  }
}

TEST(Engine, BatchedSequencesMatchSeparateRuns) {
  auto engine = test::load_engine(test::synth_model_dir("tiny", kSeed), f32_options());
  ASSERT_TRUE(engine);
  const int64_t vocab = engine->config().vocab_size;
  const auto a = test::some_tokens(21, vocab, 2), b = test::some_tokens(9, vocab, 3);
  const auto alone_a = test::logits_for_sequence(*engine, a, 21, 21, 10);
  const auto alone_b = test::logits_for_sequence(*engine, b, 9, 9, 11);
  // Both in one step, with disjoint block tables.
  SequenceStep sa{.seq_id = 1, .tokens = a, .start_pos = 0, .block_table = {0, 1}, .return_logits = true};
  SequenceStep sb{.seq_id = 2, .tokens = b, .start_pos = 0, .block_table = {5}, .return_logits = true};
  auto out = engine->executor().step({.sequences = {sa, sb}});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_LT(test::relative_frobenius_error((*out)[0].logits, alone_a), 1e-5);
  EXPECT_LT(test::relative_frobenius_error((*out)[1].logits, alone_b), 1e-5);
}

TEST(Engine, TensorParallelTwoAndFourMatchSingleRank) {
  for (const char* preset : {"tiny", "qwen2-tiny"}) {
    const std::string dir = test::synth_model_dir(preset, kSeed);
    auto engine = test::load_engine(dir, f32_options());
    ASSERT_TRUE(engine);
    const auto tokens = test::some_tokens(16, engine->config().vocab_size, 4);
    const auto reference = test::logits_for_sequence(*engine, tokens, 12, 6);
    for (int tp : {2, 4}) {
      const auto sharded = test::tensor_parallel_logits(dir, f32_options(), tp, tokens);
      EXPECT_LT(test::relative_frobenius_error(sharded, reference), 1e-5) << preset << " tp=" << tp;
    }
  }
}

// Quantized weights and KV formats against the f32 path, on 40 positions of the tiny model. Bounds are the
// measured relative Frobenius errors of the logits with about 2x margin (docs/formats.md keeps the table).
TEST(Engine, QuantizedFormatsStayWithinTheirTolerance) {
  const std::string dir = test::synth_model_dir("tiny", kSeed);
  auto reference_engine = test::load_engine(dir, f32_options());
  ASSERT_TRUE(reference_engine);
  const auto tokens = test::some_tokens(40, reference_engine->config().vocab_size, 5);
  const auto reference = test::logits_for_sequence(*reference_engine, tokens, 32, 32);
  reference_engine.reset();
  struct Case {
    const char* name;
    std::optional<WeightFormat> weights;
    int group;
    KvFormat k, v;
    double bound;
  };
  const Case cases[] = {
      {"bf16 weights (checkpoint)", std::nullopt, 0, KvFormat::f32, KvFormat::f32, 1e-5},
      {"int8 weights", WeightFormat::int8, 0, KvFormat::f32, KvFormat::f32, 0.02},
      {"int4 g128 weights", WeightFormat::int4, 128, KvFormat::f32, KvFormat::f32, 0.40},
      {"int4 g32 weights", WeightFormat::int4, 32, KvFormat::f32, KvFormat::f32, 0.35},
      {"fp16 KV", WeightFormat::f32, 0, KvFormat::f16, KvFormat::f16, 2e-3},
      {"bf16 KV", WeightFormat::f32, 0, KvFormat::bf16, KvFormat::bf16, 1e-2},
      {"fp8 KV", WeightFormat::f32, 0, KvFormat::fp8_e4m3, KvFormat::fp8_e4m3, 0.08},
      {"int8 KV", WeightFormat::f32, 0, KvFormat::int8, KvFormat::int8, 0.02},
      {"int4 KV", WeightFormat::f32, 0, KvFormat::int4, KvFormat::int4, 0.25},
      {"int8 K, int4 V", WeightFormat::f32, 0, KvFormat::int8, KvFormat::int4, 0.2},
  };
  for (const Case& c : cases) {
    EngineOptions o = f32_options();
    o.weights.linear_format = c.weights;
    if (c.group) o.weights.group_size = c.group;
    o.k_format = c.k;
    o.v_format = c.v;
    auto engine = test::load_engine(dir, o);
    ASSERT_TRUE(engine);
    const double err = test::relative_frobenius_error(test::logits_for_sequence(*engine, tokens, 32, 32), reference);
    std::printf("  %-26s logits rel. error %.2e (bound %.0e)\n", c.name, err, c.bound);
    EXPECT_LT(err, c.bound) << c.name;
  }
}

TEST(Engine, GenerationIsReproducibleForASeed) {
  auto engine = test::load_engine(test::synth_model_dir("tiny", kSeed), f32_options());
  ASSERT_TRUE(engine);
  GenerateRequest request{.prompt = {1, 2, 3, 4, 5}, .max_tokens = 12};
  request.sampling.temperature = 0.9f;
  request.sampling.top_p = 0.95f;
  request.sampling.seed = 42;
  auto a = generate_tokens(*engine, request);
  auto b = generate_tokens(*engine, request);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 12u);
  EXPECT_EQ(*a, *b);
  request.sampling.seed = 43;
  auto c = generate_tokens(*engine, request);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*a, *c);
  // Greedy decoding is the argmax of the teacher-forced logits at each step.
  request.sampling = {};
  request.sampling.temperature = 0;
  auto greedy = generate_tokens(*engine, request);
  ASSERT_TRUE(greedy.ok());
  std::vector<int32_t> seq = request.prompt;
  seq.insert(seq.end(), greedy->begin(), greedy->end());
  const auto logits = test::logits_for_sequence(*engine, seq, 5, 5);
  const int64_t vocab = engine->config().vocab_size;
  for (size_t i = 0; i < greedy->size(); ++i) {
    const float* row = logits.data() + (4 + i) * vocab;
    EXPECT_EQ(std::max_element(row, row + vocab) - row, (*greedy)[i]) << "step " << i;
  }
}

TEST(Engine, RejectsPromptsBeyondTheContext) {
  auto engine = test::load_engine(test::synth_model_dir("tiny", kSeed), f32_options());
  ASSERT_TRUE(engine);
  GenerateRequest request{.prompt = std::vector<int32_t>(4090, 1), .max_tokens = 10};
  auto out = generate_tokens(*engine, request);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::out_of_range);
  EXPECT_NE(out.status().message().find("context"), std::string::npos);
}

}  // namespace
}  // namespace mixserve
