// fp8 e4m3 W8A8 in the CPU reference: the weight rounding and per-token activation rounding against
// independent math (e4m3 has 3 mantissa bits, so every normal value rounds within 2^-4 of itself), the linear
// op against an fp64 matmul of the two rounded operands, and the end-to-end quantization error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "core/float_convert.h"
#include "kernels/cpu/linear.h"
#include "kernels/formats/weight_format.h"
#include "test_support.h"

namespace mixserve::cpu {
namespace {

constexpr double kE4m3RelativeStep = 0x1p-4;  // half the spacing of 3-bit mantissas, relative to the value
constexpr float kE4m3MinNormal = 0x1p-6f;

bool is_e4m3_value(float v) {
  return fp8_e4m3_bits_to_fp32(fp32_to_fp8_e4m3_bits(v)) == v;
}


TEST(Fp8Weights, EachRowScalesToE4m3WithinHalfAStep) {
  auto rng = test::make_rng(31);
  const int64_t n = 37, k = 301;  // ragged
  std::vector<float> w = test::random_normal(n * k, rng, 0.05f);
  for (int64_t c = 0; c < k; ++c) w[5 * k + c] = 0;  // an all-zero row
  w[9 * k + 3] = 1e4f;                                // an outlier sets its row's scale
  const QuantizedWeight q = quantize_fp8(w.data(), n, k);
  ASSERT_EQ(q.format, WeightFormat::fp8_e4m3);
  ASSERT_EQ(q.scales.size(), static_cast<size_t>(n));
  const std::vector<float> back = dequantize(q);
  for (int64_t r = 0; r < n; ++r) {
    const float s = q.scales[r];
    if (r == 5) {
      EXPECT_EQ(s, 0.0f);
      for (int64_t c = 0; c < k; ++c) EXPECT_EQ(back[r * k + c], 0.0f);
      continue;
    }
    EXPECT_EQ(fp16_bits_to_fp32(fp32_to_fp16_bits(s)), s) << "scales are stored as fp16";
    float amax = 0;
    for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(w[r * k + c]));
    EXPECT_LE(amax / s, 448.0f) << "row " << r << ": the largest weight must not saturate";
    EXPECT_GT(amax / s, 448.0f * (1 - 0x1p-10f)) << "row " << r << ": the scale uses e4m3's range";
    for (int64_t c = 0; c < k; ++c) {
      const float v = w[r * k + c] / s;
      const float got = back[r * k + c] / s;
      EXPECT_TRUE(is_e4m3_value(got)) << "row " << r << " col " << c;
      if (std::fabs(v) >= kE4m3MinNormal)
        EXPECT_LE(std::fabs(got - v), kE4m3RelativeStep * std::fabs(v)) << "row " << r << " col " << c;
      else
        EXPECT_LE(std::fabs(got - v), 0x1p-10f) << "subnormal spacing is 2^-9";
    }
  }
}

TEST(Fp8Weights, ActivationsRoundPerTokenWithTheirOwnScale) {
  auto rng = test::make_rng(32);
  const int64_t m = 5, k = 77;
  std::vector<float> x = test::random_normal(m * k, rng);
  for (int64_t c = 0; c < k; ++c) x[2 * k + c] *= 1000.0f;  // a row of another magnitude
  std::vector<float> rounded = x;
  round_activations_to_fp8(rounded.data(), m, k);
  for (int64_t i = 0; i < m; ++i) {
    float amax = 0;
    for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(x[i * k + c]));
    const float s = amax / 448.0f;
    for (int64_t c = 0; c < k; ++c) {
      const float v = x[i * k + c] / s;
      // The value is an e4m3 number times the row's scale (up to the f32 rounding of that product).
      const float nearest = fp8_e4m3_bits_to_fp32(fp32_to_fp8_e4m3_bits(v)) * s;
      EXPECT_NEAR(rounded[i * k + c], nearest, 0x1p-22 * std::fabs(nearest)) << "row " << i << " col " << c;
      if (std::fabs(v) >= kE4m3MinNormal) {
        EXPECT_LE(std::fabs(rounded[i * k + c] / s - v), kE4m3RelativeStep * std::fabs(v) * (1 + 1e-6));
      }
    }
  }
}

TEST(Fp8Weights, LinearMultipliesTheRoundedActivationsByTheRoundedWeights) {
  auto rng = test::make_rng(33);
  ThreadPool pool(2);
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 45, 130}, {17, 70, 300}, {64, 9, 1000}}) {
    const std::vector<float> w = test::random_normal(n * k, rng, 0.1f);
    const std::vector<float> x = test::random_normal(m * k, rng);
    const QuantizedWeight q = quantize_fp8(w.data(), n, k);
    std::vector<float> y(static_cast<size_t>(m * n));
    linear({.x = x.data(), .w = &q, .y = y.data(), .m = m}, pool);
    std::vector<float> x8 = x;
    round_activations_to_fp8(x8.data(), m, k);
    const std::vector<double> expected = test::fp64_matmul(x8, dequantize(q), m, n, k);
    EXPECT_LT(test::relative_frobenius_error(y.data(), expected.data(), y.size()), 1e-5)
        << "m=" << m << " n=" << n << " k=" << k << ": only f32 accumulation may differ";
    const std::vector<double> unrounded_x = test::fp64_matmul(x, dequantize(q), m, n, k);
    EXPECT_GT(test::relative_frobenius_error(y.data(), unrounded_x.data(), y.size()), 1e-3)
        << "the activations must be rounded to e4m3 too (W8A8)";
  }
}

// W8A8 error of y against f32 weights and activations (normal data, k = 1024): 0.036 - 0.038 relative
// Frobenius over fresh random runs. Each operand's rounding error is about 2^-4 / sqrt(3) = 3.6% relative
// per element at worst and less on average over e4m3's log-spaced grid; the two add in quadrature. Bound 0.045.
TEST(Fp8Weights, W8A8ErrorVsF32IsBelow4p5Pct) {
  auto rng = test::make_rng(34);
  ThreadPool pool(2);
  const int64_t m = 16, n = 96, k = 1024;
  const std::vector<float> w = test::random_normal(n * k, rng, 0.02f);
  const std::vector<float> x = test::random_normal(m * k, rng);
  const QuantizedWeight q = quantize_fp8(w.data(), n, k);
  std::vector<float> y(static_cast<size_t>(m * n));
  linear({.x = x.data(), .w = &q, .y = y.data(), .m = m}, pool);
  const double err = test::relative_frobenius_error(y.data(), test::fp64_matmul(x, w, m, n, k).data(), y.size());
  std::printf("[ quant    ] fp8 W8A8 relative Frobenius error vs f32: %.4f (bound 0.045)\n", err);
  EXPECT_LT(err, 0.045);
  EXPECT_GT(err, 0.005) << "both operands are rounded to 3-bit mantissas; a tiny error means they were not";
}

TEST(Fp8Weights, ParsesAndNames) {
  auto f = parse_weight_format("fp8");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, WeightFormat::fp8_e4m3);
  EXPECT_STREQ(weight_format_name(WeightFormat::fp8_e4m3), "fp8");
}

}  // namespace
}  // namespace mixserve::cpu
