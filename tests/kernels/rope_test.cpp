// RoPE: inv_freq for none/linear/llama3 against the formulas evaluated here in double, the rotation against
// fp64 math, norm preservation per pair, and position 0 as the identity.
#include "kernels/cpu/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "test_support.h"

namespace mixserve::cpu {
namespace {

// Llama 3.1's rope_scaling.
RopeScaling llama31_scaling() {
  return {.type = RopeScalingType::llama3, .factor = 8.0, .low_freq_factor = 1.0, .high_freq_factor = 4.0,
          .original_max_position_embeddings = 8192};
}

double base_inv_freq(int64_t i, int64_t head_dim, double theta) {
  return 1.0 / std::pow(theta, static_cast<double>(2 * i) / head_dim);
}

// One f32 rounding of the double value: half an ulp, plus a little for pow.
void expect_close(const std::vector<float>& got, const std::vector<double>& expected, const char* what) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], 2e-7 * std::fabs(expected[i])) << what << " i=" << i;
}

TEST(RopeInvFreq, NoScalingIsThetaPower) {
  for (int64_t head_dim : {64, 128}) {
    std::vector<double> expected;
    for (int64_t i = 0; i < head_dim / 2; ++i) expected.push_back(base_inv_freq(i, head_dim, 10000.0));
    expect_close(rope_inv_freq(head_dim, 10000.0, RopeScaling{}), expected, "none");
  }
}

TEST(RopeInvFreq, LinearDividesByFactor) {
  const RopeScaling linear{.type = RopeScalingType::linear, .factor = 4.0};
  std::vector<double> expected;
  for (int64_t i = 0; i < 64; ++i) expected.push_back(base_inv_freq(i, 128, 500000.0) / 4.0);
  expect_close(rope_inv_freq(128, 500000.0, linear), expected, "linear");
}

TEST(RopeInvFreq, Llama3MatchesTheLlama31Formula) {
  // Written in terms of the ratio orig / wavelength (= orig * f / 2pi) rather than wavelength thresholds.
  const double factor = 8, low = 1, high = 4, orig = 8192, theta = 500000;
  const int64_t head_dim = 128;
  std::vector<double> expected;
  int n_low = 0, n_high = 0, n_mid = 0;
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const double f = base_inv_freq(i, head_dim, theta);
    const double ratio = orig * f / (2 * std::numbers::pi);  // context length in wavelengths
    if (ratio < low) {
      expected.push_back(f / factor), ++n_low;
    } else if (ratio > high) {
      expected.push_back(f), ++n_high;
    } else {
      const double t = (ratio - low) / (high - low);
      expected.push_back(f * (t + (1 - t) / factor)), ++n_mid;
    }
  }
  // Llama 3.1's head_dim 128 has all three bands.
  EXPECT_GT(n_low, 0);
  EXPECT_GT(n_high, 0);
  EXPECT_GT(n_mid, 0);
  expect_close(rope_inv_freq(head_dim, theta, llama31_scaling()), expected, "llama3");
}

struct RopeCase {
  int64_t n_tokens = 5, n_heads = 3, head_dim = 64, row_stride = 3 * 64 + 40;  // q and k inside a qkv row
};

TEST(Rope, MatchesFp64RotationAndLeavesTheRestOfTheRowAlone) {
  auto rng = test::make_rng(51);
  ThreadPool pool(2);
  for (const RopeScaling& scaling : {RopeScaling{}, llama31_scaling()}) {
    const RopeCase c;
    const auto inv_freq = rope_inv_freq(c.head_dim, 500000.0, scaling);
    std::vector<int32_t> positions = {0, 1, 17, 4095, 131071};
    auto x = test::random_normal(c.n_tokens * c.row_stride, rng);
    const auto before = x;
    rope({.x = x.data(), .positions = positions.data(), .inv_freq = inv_freq.data(), .n_tokens = c.n_tokens,
          .n_heads = c.n_heads, .head_dim = c.head_dim, .row_stride = c.row_stride},
         pool);
    const int64_t half = c.head_dim / 2;
    std::vector<float> got;
    std::vector<double> expected;
    for (int64_t t = 0; t < c.n_tokens; ++t) {
      for (int64_t h = 0; h < c.n_heads; ++h) {
        for (int64_t i = 0; i < half; ++i) {
          const int64_t a = t * c.row_stride + h * c.head_dim + i, b = a + half;
          // The angle as HF forms it (f32 product); everything after it in double.
          const double angle = static_cast<float>(positions[t]) * inv_freq[i];
          got.push_back(x[a]), got.push_back(x[b]);
          expected.push_back(before[a] * std::cos(angle) - before[b] * std::sin(angle));
          expected.push_back(before[b] * std::cos(angle) + before[a] * std::sin(angle));
        }
      }
      for (int64_t j = c.n_heads * c.head_dim; j < c.row_stride; ++j)
        ASSERT_EQ(x[t * c.row_stride + j], before[t * c.row_stride + j]) << "outside the heads";
    }
    EXPECT_LT(test::relative_frobenius_error(got.data(), expected.data(), got.size()), 1e-6);
  }
}

TEST(Rope, PreservesThePairNormsAndPositionZeroIsIdentity) {
  auto rng = test::make_rng(52);
  ThreadPool pool(2);
  const int64_t n_tokens = 9, n_heads = 4, head_dim = 128, stride = n_heads * head_dim, half = head_dim / 2;
  const auto inv_freq = rope_inv_freq(head_dim, 500000.0, llama31_scaling());
  std::vector<int32_t> positions(n_tokens);
  std::uniform_int_distribution<int32_t> pick(1, 200000);
  for (auto& p : positions) p = pick(rng);
  positions[3] = 0;
  auto x = test::random_normal(n_tokens * stride, rng);
  const auto before = x;
  rope({.x = x.data(), .positions = positions.data(), .inv_freq = inv_freq.data(), .n_tokens = n_tokens,
        .n_heads = n_heads, .head_dim = head_dim, .row_stride = stride},
       pool);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t h = 0; h < n_heads; ++h) {
      for (int64_t i = 0; i < half; ++i) {
        const int64_t a = t * stride + h * head_dim + i, b = a + half;
        if (positions[t] == 0) {
          ASSERT_EQ(x[a], before[a]);
          ASSERT_EQ(x[b], before[b]);
        }
        const double norm_before = std::hypot(double(before[a]), double(before[b]));
        const double norm_after = std::hypot(double(x[a]), double(x[b]));
        ASSERT_NEAR(norm_after, norm_before, 1e-6 * norm_before + 1e-7) << "t=" << t << " h=" << h << " i=" << i;
      }
    }
  }
}

}  // namespace
}  // namespace mixserve::cpu
