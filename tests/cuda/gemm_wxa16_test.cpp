// The weight-only GEMM (kernels/cuda/gemm/) against the CPU reference reading the same packed layout:
// dequantize_rows() on WeightLayout::mma_v1, then an fp64 matmul of the activations as rounded to fp16/bf16.
// Fresh random data each run, output poisoned with NaN before each launch.
//
// Tolerances (relative Frobenius error against fp64): the kernel rounds each dequantized weight to the
// activation dtype (int4: (q - z) * s in one multiply; int8: exact, scale applied in fp32) and the output
// once; fp16 has 11 significant bits, bf16 8 (and bf16 int4 also rounds the fp16 scale to bf16):
//   fp16: 2e-3, bf16: 1e-2.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cuda/gemm/gemm.h"
#include "kernels/formats/packed_weight.h"
#include "gemm_test_support.h"

namespace mixserve {
namespace {

using cuda::ActDtype;

using test::act_bits;
using test::act_value;

struct Case {
  WeightFormat format;
  int group;
  int64_t n, k;
};

QuantizedWeight make_weight(const Case& c, std::mt19937_64& rng) {
  const auto w = test::random_normal(static_cast<size_t>(c.n * c.k), rng, 0.05f);
  QuantizedWeight q = c.format == WeightFormat::int4 ? quantize_int4(w.data(), c.n, c.k, c.group)
                                                     : quantize_int8(w.data(), c.n, c.k);
  auto packed = pack_for_tensor_cores(q);
  EXPECT_TRUE(packed.ok()) << packed.status().to_string();
  return *std::move(packed);
}

// Runs one GEMM against the fp64 product of the activations and the CPU reference's dequantization of the
// packed weight; returns the relative error, or -1 if an output stayed unwritten (NaN).
double run_case(const QuantizedWeight& w, int m, ActDtype act, std::mt19937_64& rng, int config = -1,
                int splits = 0, std::vector<float>* y_out = nullptr) {
  auto dw = cuda::DeviceWeight::upload(w, act);
  EXPECT_TRUE(dw.ok()) << dw.status().to_string();
  auto plan = cuda::plan_gemm(*dw, m, config, splits);
  EXPECT_TRUE(plan.ok()) << plan.status().to_string();
  if (!dw.ok() || !plan.ok()) return 1.0;
  const auto xf = test::random_normal(static_cast<size_t>(m * w.k), rng);
  std::vector<uint16_t> x(xf.size());
  std::vector<float> x_rounded(xf.size());
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = act_bits(xf[i], act);
    x_rounded[i] = act_value(x[i], act);
  }
  const std::vector<float> y = test::run_plan(*dw, *plan, x, m);
  if (y_out) *y_out = y;
  return test::error_or_unwritten(y, test::fp64_matmul(x_rounded, dequantize(w), m, w.n, w.k));
}

double tolerance(ActDtype act) { return act == ActDtype::bf16 ? 1e-2 : 2e-3; }

class GemmWxA16 : public ::testing::TestWithParam<std::tuple<WeightFormat, ActDtype>> {};

TEST_P(GemmWxA16, MatchesCpuReferenceOverM) {
  const auto [format, act] = GetParam();
  auto rng = test::make_rng(31 + static_cast<int>(format) * 2 + static_cast<int>(act));
  const Case shapes[] = {{format, 128, 200, 1000}, {format, 128, 4096 + 48, 512}};
  for (const Case& c : shapes) {
    const QuantizedWeight w = make_weight(c, rng);
    for (int m : {1, 3, 16, 17, 64, 300, 1024}) {
      const double err = run_case(w, m, act, rng);
      EXPECT_GE(err, 0) << "unwritten output, n=" << c.n << " k=" << c.k << " m=" << m;
      EXPECT_LT(err, tolerance(act)) << "n=" << c.n << " k=" << c.k << " m=" << m;
      std::printf("  %s %s n=%lld k=%lld m=%d: rel err %.2e\n", weight_format_name(format), cuda::act_dtype_name(act),
                  static_cast<long long>(c.n), static_cast<long long>(c.k), m, err);
    }
  }
}

// Every compiled configuration, with and without split-K, on a ragged shape.
TEST_P(GemmWxA16, EveryConfigurationAndSplit) {
  const auto [format, act] = GetParam();
  auto rng = test::make_rng(41 + static_cast<int>(format) * 2 + static_cast<int>(act));
  const QuantizedWeight w = make_weight({format, 64, 333, 1096}, rng);
  test::expect_every_configuration(
      [&](int config, int splits, int m) { return run_case(w, m, act, rng, config, splits); }, tolerance(act));
}

INSTANTIATE_TEST_SUITE_P(Formats, GemmWxA16,
                         ::testing::Combine(::testing::Values(WeightFormat::int4, WeightFormat::int8),
                                            ::testing::Values(ActDtype::f16, ActDtype::bf16)));

TEST(GemmWxA16Int4, Group32And64) {
  auto rng = test::make_rng(51);
  for (int group : {32, 64}) {
    const QuantizedWeight w = make_weight({WeightFormat::int4, group, 160, 520}, rng);
    for (int m : {1, 17, 300}) {
      const double err = run_case(w, m, ActDtype::f16, rng);
      EXPECT_GE(err, 0);
      EXPECT_LT(err, tolerance(ActDtype::f16)) << "G=" << group << " m=" << m;
    }
  }
}

// Split-K sums the partials in split order: the same inputs give the same bits.
TEST(GemmWxA16Int4, SplitKIsDeterministic) {
  auto rng = test::make_rng(52);
  const QuantizedWeight w = make_weight({WeightFormat::int4, 128, 1024, 4096}, rng);
  std::vector<float> a, b;
  auto rng_a = test::make_rng(53);
  auto rng_b = rng_a;  // same engine state: the same activations
  ASSERT_LT(run_case(w, 4, ActDtype::f16, rng_a, 0, 8, &a), tolerance(ActDtype::f16));
  ASSERT_LT(run_case(w, 4, ActDtype::f16, rng_b, 0, 8, &b), tolerance(ActDtype::f16));
  EXPECT_EQ(a, b);
}

TEST(GemmWxA16Int4, RejectsFractionalZeros) {
  std::vector<float> wf(16 * 64, 0.5f);
  QuantizedWeight q = quantize_int4(wf.data(), 16, 64, 64);
  q.zeros[0] = 2.5f;
  auto packed = pack_for_tensor_cores(q);
  ASSERT_TRUE(packed.ok());
  auto dw = cuda::DeviceWeight::upload(*packed, ActDtype::f16);
  ASSERT_FALSE(dw.ok());
  EXPECT_NE(dw.status().message().find("integer zero"), std::string::npos);
}

}  // namespace
}  // namespace mixserve
