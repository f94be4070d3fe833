// linear() against an independent fp64 matmul, for every weight format, ragged shapes, with and without bias;
// and the int8/int4 quantization error against the original f32 weights.
#include "kernels/cpu/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "test_support.h"

namespace mixserve::cpu {
namespace {

struct FormatCase {
  WeightFormat format;
  int group_size;  // int4 only
  std::string name() const {
    return std::string(weight_format_name(format)) + (group_size ? "_g" + std::to_string(group_size) : "");
  }
};

constexpr FormatCase kFormats[] = {{WeightFormat::f32, 0},  {WeightFormat::f16, 0},  {WeightFormat::bf16, 0},
                                   {WeightFormat::int8, 0}, {WeightFormat::int4, 32}, {WeightFormat::int4, 64},
                                   {WeightFormat::int4, 128}};

QuantizedWeight make_weight(const FormatCase& f, const std::vector<float>& w, int64_t n, int64_t k) {
  switch (f.format) {
    case WeightFormat::int8: return quantize_int8(w.data(), n, k);
    case WeightFormat::int4: return quantize_int4(w.data(), n, k, f.group_size);
    default: return make_dense_weight(w.data(), n, k, f.format);
  }
}

// y = x W^T + bias in fp64, W given as f32 values [n][k].
std::vector<double> reference(const std::vector<float>& x, const std::vector<float>& w, const float* bias,
                              int64_t m, int64_t n, int64_t k) {
  std::vector<double> y(m * n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = bias ? bias[j] : 0.0;
      for (int64_t c = 0; c < k; ++c) acc += static_cast<double>(x[i * k + c]) * w[j * k + c];
      y[i * n + j] = acc;
    }
  }
  return y;
}

std::vector<float> run_linear(const std::vector<float>& x, const QuantizedWeight& w, const float* bias, int64_t m,
                              ThreadPool& pool) {
  std::vector<float> y(m * w.n, NAN);  // poisoned: every element must be written
  linear({.x = x.data(), .w = &w, .bias = bias, .y = y.data(), .m = m}, pool);
  return y;
}

// |x| |W|^T (+ |bias|): the scale of the rounding error of each output element.
std::vector<double> magnitude(const std::vector<float>& x, const std::vector<float>& w, const float* bias,
                              int64_t m, int64_t n, int64_t k) {
  std::vector<float> abs_x(x.size()), abs_w(w.size()), abs_bias(bias ? n : 0);
  for (size_t i = 0; i < x.size(); ++i) abs_x[i] = std::fabs(x[i]);
  for (size_t i = 0; i < w.size(); ++i) abs_w[i] = std::fabs(w[i]);
  for (int64_t j = 0; j < static_cast<int64_t>(abs_bias.size()); ++j) abs_bias[j] = std::fabs(bias[j]);
  return reference(abs_x, abs_w, bias ? abs_bias.data() : nullptr, m, n, k);
}

// f32 accumulation against fp64 over the same dequantized weights; the only error is f32 rounding.
//   Every element: |y - y64| <= k * 2^-24 * (|x| |W|^T + |bias|), the textbook bound for a k-term f32 sum.
//   Outputs of >= 16 elements: relative Frobenius error < 1e-5 (a single element can cancel to ~0, where a
//   relative measure says nothing; over many elements cancellation cannot dominate).
constexpr double kAccumulationTolerance = 1e-5;
constexpr double kUnitRoundoff = 0x1p-24;

TEST(Linear, MatchesFp64OnTheDequantizedWeights) {
  auto rng = test::make_rng(11);
  ThreadPool pool(2);
  // (n, k): n not a multiple of the 4-row kernel or of a row block; k not a multiple of 8 or of a group.
  const std::pair<int64_t, int64_t> shapes[] = {{1, 45}, {17, 45}, {70, 300}, {37, 1000}, {130, 64}};
  for (const FormatCase& f : kFormats) {
    for (auto [n, k] : shapes) {
      const auto w_f32 = test::random_normal(n * k, rng, 0.1f);
      const QuantizedWeight w = make_weight(f, w_f32, n, k);
      const auto w_deq = dequantize(w);
      const auto bias = test::random_normal(n, rng);
      for (int64_t m : {1, 3, 17, 64}) {
        const auto x = test::random_normal(m * k, rng);
        for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
          const auto y = run_linear(x, w, b, m, pool);
          const auto expected = reference(x, w_deq, b, m, n, k);
          const auto scale = magnitude(x, w_deq, b, m, n, k);
          const std::string where =
              f.name() + " m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
              (b ? " bias" : " no bias");
          for (size_t i = 0; i < y.size(); ++i)
            ASSERT_LE(std::fabs(y[i] - expected[i]), (k + 1) * kUnitRoundoff * scale[i]) << where << " i=" << i;
          if (y.size() >= 16) {
            EXPECT_LT(test::relative_frobenius_error(y.data(), expected.data(), y.size()), kAccumulationTolerance)
                << where;
          }
        }
      }
    }
  }
}

// Quantization error of y against the original f32 weights (normal weights and x, k = 1024), measured over 12
// fresh-random runs, relative Frobenius:
//   int8 (per channel, s = max|w|/127):        0.0074 - 0.0081; bound 0.011
//   int4 G=32  (s = (max - min)/15 per group): 0.079  - 0.084;  bound 0.10
//   int4 G=64:                                 0.088  - 0.094;  bound 0.11
//   int4 G=128:                                0.097  - 0.103;  bound 0.12
// RTN errors are ~uniform in [-s/2, s/2], so the error is about s/sqrt(12)/rms(w), which grows with the
// spread of a group (hence with G); run-to-run spread is ~3%, the bounds leave 15-35% margin.
struct QuantCase {
  FormatCase format;
  double bound;
};
constexpr QuantCase kQuantCases[] = {{{WeightFormat::int8, 0}, 0.011},
                                     {{WeightFormat::int4, 32}, 0.10},
                                     {{WeightFormat::int4, 64}, 0.11},
                                     {{WeightFormat::int4, 128}, 0.12}};

TEST(Linear, QuantizationErrorVsF32Weights_Int8Below1p1Pct_Int4G32Below10Pct_G64Below11Pct_G128Below12Pct) {
  auto rng = test::make_rng(12);
  ThreadPool pool(2);
  const int64_t m = 16, n = 96, k = 1024;
  const auto w_f32 = test::random_normal(n * k, rng, 0.02f);
  const auto x = test::random_normal(m * k, rng);
  const auto expected = reference(x, w_f32, nullptr, m, n, k);
  for (const QuantCase& q : kQuantCases) {
    const QuantizedWeight w = make_weight(q.format, w_f32, n, k);
    const auto y = run_linear(x, w, nullptr, m, pool);
    const double err = test::relative_frobenius_error(y.data(), expected.data(), y.size());
    std::printf("[ quant    ] %-9s relative Frobenius error vs f32 weights: %.4f (bound %.3f)\n",
                q.format.name().c_str(), err, q.bound);
    EXPECT_LT(err, q.bound) << q.format.name() << " quantization error above its documented bound";
  }
}

TEST(Linear, SingleThreadAndPoolAgreeBitForBit) {
  auto rng = test::make_rng(13);
  ThreadPool one(1), two(2);
  // Many weight blocks; and one block with many x rows, which the pool splits into tiles of x.
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{5, 301, 129}, {40, 20, 129}}) {
    const auto w_f32 = test::random_normal(n * k, rng);
    const auto w = quantize_int4(w_f32.data(), n, k, 64);
    const auto x = test::random_normal(m * k, rng);
    EXPECT_EQ(run_linear(x, w, nullptr, m, one), run_linear(x, w, nullptr, m, two)) << "m=" << m << " n=" << n;
  }
}

}  // namespace
}  // namespace mixserve::cpu
