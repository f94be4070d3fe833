// Row copy with conversion and bias add (activation_rows.h). Memory-bound helpers: one CTA per row for the copy
// (rows are a few hundred to a few thousand elements), a grid-stride loop for the bias.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <type_traits>

#include "kernels/cuda/common/cuda_check.h"
#include "worker/cuda/activation_rows.h"

namespace mixserve::cuda {
namespace {

constexpr int kThreads = 256;

__device__ float to_f32(__half v) { return __half2float(v); }
__device__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ T from_f32(float v);
template <>
__device__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <typename S, typename D>
__device__ D convert(S v) {
  if constexpr (std::is_same_v<S, D>) {
    return v;
  } else if constexpr (std::is_same_v<D, __half>) {
    const float f = to_f32(v);  // bf16 -> fp16: saturate, so an out-of-range activation does not become inf
    return __float2half_rn(isnan(f) ? f : fminf(fmaxf(f, -65504.0f), 65504.0f));
  } else {
    return from_f32<D>(to_f32(v));
  }
}

template <typename S, typename D>
__global__ void __launch_bounds__(kThreads) copy_rows_kernel(const __grid_constant__ RowCopyParams p) {
  const int64_t r = blockIdx.x;
  const int64_t src_row = p.src_rows ? p.src_rows[r] : r;
  const int64_t dst_row = p.dst_rows ? p.dst_rows[r] : r;
  const S* gSrc = static_cast<const S*>(p.src) + src_row * p.src_stride;  // [cols]
  D* gDst = static_cast<D*>(p.dst) + dst_row * p.dst_stride;              // [cols]
  for (int64_t c = threadIdx.x; c < p.cols; c += kThreads) gDst[c] = convert<S, D>(gSrc[c]);
}

template <typename T>
__global__ void __launch_bounds__(kThreads) add_bias_kernel(T* y, const float* bias, int64_t m, int64_t n) {
  const int64_t total = m * n;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    y[i] = from_f32<T>(to_f32(y[i]) + bias[i % n]);
  }
}

template <typename S, typename D>
Status launch_copy(const RowCopyParams& p, cudaStream_t stream) {
  copy_rows_kernel<S, D><<<static_cast<unsigned>(p.n_rows), kThreads, 0, stream>>>(p);
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return {};
}

}  // namespace

Status copy_rows(const RowCopyParams& p, cudaStream_t stream) {
  if (p.n_rows == 0 || p.cols == 0) return {};
  if (p.n_rows < 0 || p.n_rows > 0x7fffffff || p.cols < 0)
    return invalid_argument("copy_rows: n_rows must be in [0, 2^31) and cols >= 0");
  if (p.src == nullptr || p.dst == nullptr) return invalid_argument("copy_rows: null src or dst");
  const bool src_bf16 = p.src_dtype == ActDtype::bf16, dst_bf16 = p.dst_dtype == ActDtype::bf16;
  if (!src_bf16 && !dst_bf16) return launch_copy<__half, __half>(p, stream);
  if (!src_bf16 && dst_bf16) return launch_copy<__half, __nv_bfloat16>(p, stream);
  if (src_bf16 && !dst_bf16) return launch_copy<__nv_bfloat16, __half>(p, stream);
  return launch_copy<__nv_bfloat16, __nv_bfloat16>(p, stream);
}

Status add_bias(const BiasAddParams& p, cudaStream_t stream) {
  if (p.m == 0 || p.n == 0) return {};
  if (p.y == nullptr || p.bias == nullptr) return invalid_argument("add_bias: null y or bias");
  const int64_t blocks = std::min<int64_t>((p.m * p.n + kThreads - 1) / kThreads, 65536);
  if (p.dtype == ActDtype::bf16) {
    add_bias_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(static_cast<__nv_bfloat16*>(p.y), p.bias,
                                                                          p.m, p.n);
  } else {
    add_bias_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(static_cast<__half*>(p.y), p.bias, p.m,
                                                                          p.n);
  }
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return {};
}

}  // namespace mixserve::cuda
