// The fp8 e4m3 W8A8 GEMM (kernels/cuda/gemm/: per-token activation quantization, then our mma.sync kernel on
// the codes or cuBLASLt) against the CPU reference: quantize_fp8 weights, dequantize() them, round the
// activations with round_activations_to_fp8 (the CPU linear op's own rounding), then an fp64 matmul. Both sides
// carry the same two roundings, so what is left is fp32 accumulation and the output's rounding to fp16/bf16.
// Fresh random data each run, output poisoned with NaN before each launch.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/float_convert.h"
#include "kernels/cuda/gemm/fp8_activation.h"
#include "kernels/cuda/gemm/gemm.h"
#include "gemm_test_support.h"

namespace mixserve {
namespace {

using cuda::ActDtype;
using test::DeviceMemory;  // the activation test's own buffers

using test::act_bits;
using test::act_value;

bool is_hopper_or_newer() {
  int device = 0, major = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  return major >= 9;
}

// Activations in the dtype, with a scale spread per row (some rows tiny, some large) and one all-zero row.
std::vector<uint16_t> random_activations(int m, int64_t k, ActDtype act, std::mt19937_64& rng) {
  auto xf = test::random_normal(static_cast<size_t>(m * k), rng);
  std::vector<uint16_t> x(xf.size());
  for (int r = 0; r < m; ++r) {
    const float row_scale = r == 1 ? 0.0f : std::ldexp(1.0f, (r * 7) % 17 - 8);
    for (int64_t c = 0; c < k; ++c) x[r * k + c] = act_bits(xf[r * k + c] * row_scale, act);
  }
  return x;
}

TEST(Fp8Activations, MatchTheCpuRoundingBitForBit) {
  auto rng = test::make_rng(71);
  for (ActDtype act : {ActDtype::f16, ActDtype::bf16}) {
    for (auto layout : {cuda::Fp8CodeLayout::f16_values, cuda::Fp8CodeLayout::e4m3_bytes}) {
      const int m = 7;
      const int64_t k = 1000, stride = 1024;
      const std::vector<uint16_t> x = random_activations(m, k, act, rng);
      std::vector<float> ref(x.size());
      for (size_t i = 0; i < x.size(); ++i) ref[i] = act_value(x[i], act);
      round_activations_to_fp8(ref.data(), m, k);

      const int code_bytes = layout == cuda::Fp8CodeLayout::e4m3_bytes ? 1 : 2;
      DeviceMemory dx(x.size() * 2), dcodes(static_cast<size_t>(m * stride * code_bytes)), dscales(m * 4);
      ASSERT_EQ(cudaMemcpy(dx.ptr, x.data(), x.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
      ASSERT_EQ(cudaMemset(dcodes.ptr, 0x7F, static_cast<size_t>(m * stride * code_bytes)), cudaSuccess);
      const Status st = cuda::quantize_activations_fp8(
          {.x = dx.ptr, .act = act, .m = m, .k = static_cast<int>(k), .codes = dcodes.ptr,
           .codes_stride = static_cast<int>(stride), .layout = layout, .scales = static_cast<float*>(dscales.ptr)},
          nullptr);
      ASSERT_TRUE(st.ok()) << st.to_string();
      std::vector<uint8_t> codes(static_cast<size_t>(m * stride * code_bytes));
      std::vector<float> scales(m);
      ASSERT_EQ(cudaMemcpy(codes.data(), dcodes.ptr, codes.size(), cudaMemcpyDeviceToHost), cudaSuccess);
      ASSERT_EQ(cudaMemcpy(scales.data(), dscales.ptr, m * 4, cudaMemcpyDeviceToHost), cudaSuccess);
      int mismatches = 0;
      for (int r = 0; r < m; ++r) {
        float amax = 0;
        for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(act_value(x[r * k + c], act)));
        EXPECT_EQ(scales[r], amax / 448.0f) << "row " << r;
        for (int64_t c = 0; c < stride; ++c) {
          const size_t i = static_cast<size_t>(r * stride + c);
          const float code = code_bytes == 1 ? fp8_e4m3_bits_to_fp32(codes[i])
                                             : fp16_bits_to_fp32(static_cast<uint16_t>(codes[2 * i] | codes[2 * i + 1] << 8));
          const float want = c < k ? ref[r * k + c] : 0.0f;
          if (code * scales[r] != want && ++mismatches < 5) {
            ADD_FAILURE() << "row " << r << " col " << c << ": code " << code << " * " << scales[r] << " != " << want;
          }
        }
      }
      EXPECT_EQ(mismatches, 0) << cuda::act_dtype_name(act) << " layout " << code_bytes;
    }
  }
}

// Relative error of one run against the fp64 product of the dequantized fp8 weights and the activations as the
// CPU reference rounds them, or -1 if an output stayed unwritten (NaN). config -1: plan_gemm's default.
double run_case(const QuantizedWeight& w, int m, ActDtype act, std::mt19937_64& rng, int config = -1, int splits = 0,
                std::string* described = nullptr) {
  auto dw = cuda::DeviceWeight::upload(w, act);
  EXPECT_TRUE(dw.ok()) << dw.status().to_string();
  auto plan = cuda::plan_gemm(*dw, m, config, splits);
  EXPECT_TRUE(plan.ok()) << plan.status().to_string();
  if (!dw.ok() || !plan.ok()) return 1.0;
  if (described) *described = plan->describe();
  const std::vector<uint16_t> x = random_activations(m, w.k, act, rng);
  std::vector<float> x_rounded(x.size());
  for (size_t i = 0; i < x.size(); ++i) x_rounded[i] = act_value(x[i], act);
  round_activations_to_fp8(x_rounded.data(), m, w.k);
  const std::vector<float> y = test::run_plan(*dw, *plan, x, m);
  return test::error_or_unwritten(y, test::fp64_matmul(x_rounded, dequantize(w), m, w.n, w.k));
}

// The output's rounding dominates: fp16 has 11 significant bits, bf16 8.
double tolerance(ActDtype act) { return act == ActDtype::bf16 ? 8e-3 : 1e-3; }

QuantizedWeight random_fp8_weight(int64_t n, int64_t k, std::mt19937_64& rng) {
  const auto w = test::random_normal(static_cast<size_t>(n * k), rng, 0.05f);
  return quantize_fp8(w.data(), n, k);
}

class GemmFp8 : public ::testing::TestWithParam<ActDtype> {};

TEST_P(GemmFp8, DefaultPlansMatchCpuReferenceOverM) {
  const ActDtype act = GetParam();
  auto rng = test::make_rng(81 + static_cast<int>(act));
  for (auto [n, k] : {std::pair<int64_t, int64_t>{200, 1000}, {4096 + 48, 512}}) {
    const QuantizedWeight w = random_fp8_weight(n, k, rng);
    for (int m : {1, 3, 16, 17, 64, 300, 1024}) {
      std::string plan;
      const double err = run_case(w, m, act, rng, -1, 0, &plan);
      EXPECT_GE(err, 0) << "unwritten output, n=" << n << " k=" << k << " m=" << m;
      EXPECT_LT(err, tolerance(act)) << "n=" << n << " k=" << k << " m=" << m << " " << plan;
      std::printf("  fp8 %s n=%lld k=%lld m=%d: rel err %.2e (%s)\n", cuda::act_dtype_name(act),
                  static_cast<long long>(n), static_cast<long long>(k), m, err, plan.c_str());
    }
  }
}

// Every compiled configuration with and without split-K on a ragged shape; cuBLASLt on a ragged K (its output
// rows need n % 8 == 0, so a ragged n falls back to our kernel by default, and forcing it is refused).
TEST_P(GemmFp8, EveryConfigurationSplitAndCublasLt) {
  const ActDtype act = GetParam();
  auto rng = test::make_rng(91 + static_cast<int>(act));
  const QuantizedWeight w = random_fp8_weight(333, 1096, rng);
  test::expect_every_configuration(
      [&](int config, int splits, int m) { return run_case(w, m, act, rng, config, splits); }, tolerance(act));
  if (!is_hopper_or_newer()) return;  // cuBLASLt's fp8 outer-vector scaling is an sm_90 feature
  auto dw = cuda::DeviceWeight::upload(w, act);
  ASSERT_TRUE(dw.ok());
  auto forced = cuda::plan_gemm(*dw, 300, cuda::kGemmCublasLtConfig);
  EXPECT_FALSE(forced.ok());
  if (!forced.ok()) {
    EXPECT_EQ(forced.status().code(), StatusCode::unsupported) << forced.status().to_string();
  }
  std::string plan;
  EXPECT_LT(run_case(w, 300, act, rng, -1, 0, &plan), tolerance(act));
  EXPECT_EQ(plan.find("cuBLASLt"), std::string::npos) << plan;
  const QuantizedWeight aligned = random_fp8_weight(336, 1096, rng);
  for (int m : {1, 45, 300}) {
    const double err = run_case(aligned, m, act, rng, cuda::kGemmCublasLtConfig);
    EXPECT_GE(err, 0) << "unwritten output, cuBLASLt m=" << m;
    EXPECT_LT(err, tolerance(act)) << "cuBLASLt m=" << m;
  }
}

INSTANTIATE_TEST_SUITE_P(Outputs, GemmFp8, ::testing::Values(ActDtype::f16, ActDtype::bf16));

TEST(GemmFp8Plan, LargeMUsesCublasLtOnHopperAndSmallMOurKernel) {
  auto rng = test::make_rng(95);
  const QuantizedWeight w = random_fp8_weight(256, 512, rng);
  auto dw = cuda::DeviceWeight::upload(w, ActDtype::f16);
  ASSERT_TRUE(dw.ok());
  auto small = cuda::plan_gemm(*dw, 8);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->lt, nullptr);
  auto large = cuda::plan_gemm(*dw, 4096);
  ASSERT_TRUE(large.ok());
  EXPECT_EQ(large->lt != nullptr, is_hopper_or_newer()) << large->describe();
}

}  // namespace
}  // namespace mixserve
