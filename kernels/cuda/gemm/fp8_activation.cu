#include "kernels/cuda/gemm/fp8_activation.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "kernels/cuda/common/cuda_check.h"

namespace mixserve::cuda {
namespace {

constexpr int kThreads = 256;
constexpr float kFp8Max = 448.0f;

template <typename T>
__device__ __forceinline__ float to_float(T v) {
  if constexpr (std::is_same_v<T, __half>) {
    return __half2float(v);
  } else {
    return __bfloat162float(v);
  }
}

__device__ float block_max(float v) {
  __shared__ float partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xFFFFFFFFu, v, offset));
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  v = partial[0];
  for (int w = 1; w < kThreads / 32; ++w) v = fmaxf(v, partial[w]);
  return v;
}

// One block per row, 8 elements (16 bytes of x) per thread and step. The second pass re-reads the row from L2.
template <typename T, Fp8CodeLayout kLayout>
__global__ void __launch_bounds__(kThreads) quantize_rows_kernel(const T* __restrict__ x, int k, void* codes,
                                                                  int stride, float* scales) {
  const int64_t row = blockIdx.x;
  const uint4* xr = reinterpret_cast<const uint4*>(x + row * k);
  const int vecs = k / 8, padded_vecs = stride / 8;
  float amax = 0;
  for (int v = threadIdx.x; v < vecs; v += kThreads) {
    const uint4 raw = __ldg(xr + v);
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int i = 0; i < 8; ++i) amax = fmaxf(amax, fabsf(to_float(e[i])));
  }
  amax = block_max(amax);
  const float s = amax / kFp8Max;  // f32 division, as the CPU reference
  if (threadIdx.x == 0) scales[row] = amax > 0 ? s : 0.0f;
  for (int v = threadIdx.x; v < padded_vecs; v += kThreads) {
    __nv_fp8_storage_t q[8] = {};
    if (v < vecs && amax > 0) {
      const uint4 raw = __ldg(xr + v);
      const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
      for (int i = 0; i < 8; ++i) q[i] = __nv_cvt_float_to_fp8(to_float(e[i]) / s, __NV_SATFINITE, __NV_E4M3);
    }
    if constexpr (kLayout == Fp8CodeLayout::e4m3_bytes) {
      uint2 out;
      uint8_t* b = reinterpret_cast<uint8_t*>(&out);
#pragma unroll
      for (int i = 0; i < 8; ++i) b[i] = q[i];
      reinterpret_cast<uint2*>(static_cast<uint8_t*>(codes) + row * stride)[v] = out;
    } else {
      uint4 out;
      __half_raw* h = reinterpret_cast<__half_raw*>(&out);
#pragma unroll
      for (int i = 0; i < 8; ++i) h[i] = __nv_cvt_fp8_to_halfraw(q[i], __NV_E4M3);
      reinterpret_cast<uint4*>(static_cast<__half*>(codes) + row * stride)[v] = out;
    }
  }
}

template <typename T>
void launch(const Fp8ActivationArgs& a, cudaStream_t stream) {
  const T* x = static_cast<const T*>(a.x);
  if (a.layout == Fp8CodeLayout::e4m3_bytes) {
    quantize_rows_kernel<T, Fp8CodeLayout::e4m3_bytes>
        <<<a.m, kThreads, 0, stream>>>(x, a.k, a.codes, a.codes_stride, a.scales);
  } else {
    quantize_rows_kernel<T, Fp8CodeLayout::f16_values>
        <<<a.m, kThreads, 0, stream>>>(x, a.k, a.codes, a.codes_stride, a.scales);
  }
}

}  // namespace

Status quantize_activations_fp8(const Fp8ActivationArgs& a, cudaStream_t stream) {
  if (a.m < 0 || a.k < 1 || a.k % 8 != 0 || a.codes_stride < a.k || a.codes_stride % 8 != 0) {
    return invalid_argument("quantize_activations_fp8: needs k % 8 == 0 and codes_stride >= k, a multiple of 8 (k " +
                            std::to_string(a.k) + ", stride " + std::to_string(a.codes_stride) + ")");
  }
  if (a.x == nullptr || a.codes == nullptr || a.scales == nullptr) {
    return invalid_argument("quantize_activations_fp8: null buffer");
  }
  if (a.m == 0) return {};
  if (a.act == ActDtype::bf16) {
    launch<__nv_bfloat16>(a, stream);
  } else {
    launch<__half>(a, stream);
  }
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return {};
}

}  // namespace mixserve::cuda
