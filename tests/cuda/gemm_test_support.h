#pragma once
// Shared by the GEMM tests (gemm_wxa16_test.cpp, gemm_fp8_test.cpp): activation bits, one device run of a plan
// with its output poisoned first, and the fp64 reference matmul.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/float_convert.h"
#include "device_memory.h"
#include "kernels/cuda/gemm/gemm.h"
#include "test_support.h"

namespace mixserve::test {

inline uint16_t act_bits(float v, cuda::ActDtype a) {
  return a == cuda::ActDtype::bf16 ? fp32_to_bf16_bits(v) : fp32_to_fp16_bits(v);
}
inline float act_value(uint16_t b, cuda::ActDtype a) {
  return a == cuda::ActDtype::bf16 ? bf16_bits_to_fp32(b) : fp16_bits_to_fp32(b);
}

// Runs `plan` on x (bits in the weight's activation dtype) with y poisoned with NaN first; returns y as floats.
inline std::vector<float> run_plan(const cuda::DeviceWeight& w, const cuda::GemmPlan& plan,
                                   const std::vector<uint16_t>& x, int m) {
  auto ws = cuda::GemmWorkspace::create(plan.workspace_bytes);
  EXPECT_TRUE(ws.ok());
  const size_t y_count = static_cast<size_t>(m * w.n);
  DeviceMemory dx(x.size() * 2), dy(y_count * 2);
  EXPECT_EQ(cudaMemcpy(dx.ptr, x.data(), x.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemset(dy.ptr, 0xFF, y_count * 2), cudaSuccess);  // NaN in fp16 and bf16
  const Status st = cuda::run_gemm(plan, w, {.x = dx.ptr, .y = dy.ptr, .workspace = &*ws});
  EXPECT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<uint16_t> bits(y_count);
  EXPECT_EQ(cudaMemcpy(bits.data(), dy.ptr, y_count * 2, cudaMemcpyDeviceToHost), cudaSuccess);
  std::vector<float> y(y_count);
  for (size_t i = 0; i < y_count; ++i) y[i] = act_value(bits[i], w.act);
  return y;
}

// Every compiled tile configuration with split-K 1, 3 and plan_gemm's pick, at m = 5 and 45 (a ragged shape is the
// caller's): run(config, splits, m) returns the relative error or -1 for unwritten output.
template <class Run>
void expect_every_configuration(Run run, double tolerance) {
  for (int config = 0; config < cuda::gemm_config_count(); ++config) {
    for (int splits : {1, 3, 0}) {
      for (int m : {5, 45}) {
        const double err = run(config, splits, m);
        EXPECT_GE(err, 0) << "unwritten output, config " << config << " splits " << splits << " m=" << m;
        EXPECT_LT(err, tolerance) << "config " << config << " splits " << splits << " m=" << m;
      }
    }
  }
}

// The relative Frobenius error of y against ref, or -1 if an output stayed unwritten (NaN).
inline double error_or_unwritten(const std::vector<float>& y, const std::vector<double>& ref) {
  for (float v : y) {
    if (!std::isfinite(v)) return -1;
  }
  return relative_frobenius_error(y.data(), ref.data(), y.size());
}

}  // namespace mixserve::test
