// The CPU engine against HF transformers: golden logits (tests/data/golden/, written by
// tools/reference/hf_logits.py on the GPU machine in float32, eager attention) for synthetic checkpoints that
// `mixserve synth` regenerates bit-identically here. 32 tokens are prefilled (in chunks of 7, so the cache
// is read across chunk boundaries) and 8 decoded one at a time through the paged cache.
//
// Tolerances: with f32 activations, bf16 weights and an f32 KV cache our math is HF's up to summation order:
// |logit difference| <= 2e-4 (measured ~1e-5). With the default fp16 KV cache: <= 2e-2 (K/V rounding).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

#include "engine_runner.h"
#include "synth_model.h"
#include "test_support.h"

namespace mixserve {
namespace {

struct GoldenCase {
  const char* file;
  const char* preset;
  uint64_t seed;
};

double logsumexp(const float* row, int64_t n) {
  double m = row[0];
  for (int64_t i = 1; i < n; ++i) m = std::max<double>(m, row[i]);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(row[i] - m);
  return m + std::log(s);
}

void check_against_golden(const GoldenCase& g, KvFormat kv, double tol) {
  const std::string path = std::string(MIXSERVE_TEST_DATA) + "/golden/" + g.file;
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const auto golden = nlohmann::json::parse(test::read_file(path));
  const auto tokens = golden.at("tokens").get<std::vector<int32_t>>();
  const int64_t n_prefill = golden.at("n_prefill").get<int64_t>();
  ASSERT_GE(n_prefill, 32);
  ASSERT_GE(static_cast<int64_t>(tokens.size()) - n_prefill, 8);

  EngineOptions o;
  o.k_format = kv;
  o.v_format = kv;
  o.block_size = 16;
  o.kv_tokens = 256;
  auto engine = test::load_engine(test::synth_model_dir(g.preset, g.seed), o);
  ASSERT_TRUE(engine);
  const int64_t vocab = engine->config().vocab_size;
  const auto logits = test::logits_for_sequence(*engine, tokens, n_prefill, 7);
  ASSERT_EQ(logits.size(), tokens.size() * vocab);

  double worst = 0;
  const auto& positions = golden.at("positions");
  ASSERT_EQ(positions.size(), tokens.size());
  for (size_t p = 0; p < tokens.size(); ++p) {
    const float* row = logits.data() + p * vocab;
    const auto& gp = positions[p];
    for (const char* kind : {"top", "probe"}) {
      const auto ids = gp.at(std::string(kind) + "_ids").get<std::vector<int64_t>>();
      const auto values = gp.at(std::string(kind) + "_logits").get<std::vector<double>>();
      for (size_t i = 0; i < ids.size(); ++i) worst = std::max(worst, std::abs(row[ids[i]] - values[i]));
    }
    worst = std::max(worst, std::abs(logsumexp(row, vocab) - gp.at("logsumexp").get<double>()));
    // The most likely token agrees unless HF's top two are closer than our tolerance.
    const auto top = gp.at("top_logits").get<std::vector<double>>();
    const int64_t ours = std::max_element(row, row + vocab) - row;
    if (top[0] - top[1] > 2 * tol) {
      EXPECT_EQ(ours, gp.at("top_ids")[0].get<int64_t>()) << "position " << p;
    }
  }
  std::printf("  %s kv=%s: max |logit - HF| = %.3e (tolerance %.0e)\n", g.file, kv_format_name(kv), worst, tol);
  EXPECT_LE(worst, tol) << g.file;
}

const GoldenCase kCases[] = {{"tiny-seed7.json", "tiny", 7}, {"qwen2-tiny-seed7.json", "qwen2-tiny", 7}};

TEST(Golden, MatchesHfTransformersWithF32Cache) {
  for (const auto& g : kCases) check_against_golden(g, KvFormat::f32, 2e-4);
}

TEST(Golden, MatchesHfTransformersWithFp16Cache) {
  for (const auto& g : kCases) check_against_golden(g, KvFormat::f16, 2e-2);
}

}  // namespace
}  // namespace mixserve
