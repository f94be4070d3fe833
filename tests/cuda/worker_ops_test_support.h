#pragma once
// Shared by the tests of the CUDA backend's ops (worker/cuda/): fp16/bf16 activations on both sides, device
// buffers poisoned with NaN, and the CPU backend the ops are compared with.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/float_convert.h"
#include "core/thread_pool.h"
#include "kernels/cuda/attention/device_batch.h"
#include "kernels/cuda/gemm/gemm.h"
#include "test_support.h"

namespace mixserve::test {

inline ThreadPool& op_test_threads() {
  static ThreadPool pool(0);
  return pool;
}

inline uint16_t to_act_bits(float v, cuda::ActDtype a) {
  return a == cuda::ActDtype::bf16 ? fp32_to_bf16_bits(v) : fp32_to_fp16_bits(v);
}
inline float from_act_bits(uint16_t b, cuda::ActDtype a) {
  return a == cuda::ActDtype::bf16 ? bf16_bits_to_fp32(b) : fp16_bits_to_fp32(b);
}

// Values as the GPU holds them (bits) and as the CPU reference reads them (the same values as floats).
struct Activations {
  std::vector<uint16_t> bits;
  std::vector<float> values;
};

// N(0, 1) values rounded to the activation dtype. Magnitudes below 2^-14 (fp16's smallest normal) become 0, so
// that bf16 data also converts to fp16 exactly (the attention op's documented range; about 1 value in 10^4).
inline Activations random_activations(size_t n, cuda::ActDtype act, std::mt19937_64& rng) {
  Activations a{.bits = std::vector<uint16_t>(n), .values = random_normal(n, rng)};
  for (size_t i = 0; i < n; ++i) {
    if (std::fabs(a.values[i]) < 0x1p-14f) a.values[i] = 0.0f;
    a.bits[i] = to_act_bits(a.values[i], act);
    a.values[i] = from_act_bits(a.bits[i], act);
  }
  return a;
}

inline cuda::DeviceBytes upload_bits(const std::vector<uint16_t>& bits) {
  auto d = cuda::upload_vector(bits);
  EXPECT_TRUE(d.ok()) << d.status().to_string();
  return d.ok() ? std::move(*d) : cuda::DeviceBytes();
}

// A device buffer of n fp16/bf16 values, all NaN (0xFFFF is a NaN in both), so unwritten outputs show.
inline cuda::DeviceBytes poisoned(size_t n) {
  auto d = cuda::DeviceBytes::allocate(n * 2);
  EXPECT_TRUE(d.ok()) << d.status().to_string();
  if (!d.ok()) return {};
  EXPECT_EQ(cudaMemset(d->get(), 0xFF, n * 2), cudaSuccess);
  return std::move(*d);
}

inline std::vector<float> download_act(const cuda::DeviceBytes& d, size_t n, cuda::ActDtype act) {
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<uint16_t> bits(n);
  const Status st = d.download(bits.data(), n * 2);
  EXPECT_TRUE(st.ok()) << st.to_string();
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = from_act_bits(bits[i], act);
  return out;
}

inline size_t count_non_finite(const std::vector<float>& v) {
  size_t bad = 0;
  for (float x : v) bad += !std::isfinite(x);
  return bad;
}

}  // namespace mixserve::test
