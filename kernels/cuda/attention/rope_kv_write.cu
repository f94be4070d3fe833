// The fused RoPE + KV-cache write. One warp per (token, head) row of qkv: q rows are rotated in place, k rows
// are rotated and written back and, like v rows, quantized into their cache slot. The arithmetic repeats the
// CPU reference's operation for operation (f32 angle, cos/sin of it in double rounded to f32, unfused
// multiply-adds, IEEE division, round-half-even), so the cache bytes match kv_write_row's exactly.
#include <cuda_fp8.h>

#include "kernels/cuda/attention/attention.h"
#include "kernels/cuda/common/cuda_check.h"

namespace mixserve::cuda {
namespace {

constexpr int kWarps = 4;

struct RopeKernelParams {
  __half* qkv;
  int64_t row_stride;
  int n_q_heads;
  int n_kv_heads;
  const float* inv_freq;
  PagedBatch batch;
  KvPoolView k_pool;
  KvPoolView v_pool;
  int block_shift;
};

__device__ float warp_min(float x) {
  for (int o = 16; o > 0; o /= 2) x = fminf(x, __shfl_xor_sync(0xFFFFFFFFu, x, o));
  return x;
}
__device__ float warp_max(float x) {
  for (int o = 16; o > 0; o /= 2) x = fmaxf(x, __shfl_xor_sync(0xFFFFFFFFu, x, o));
  return x;
}

// Codes of the affine formats, as kv_format.cpp computes them: scale and zero rounded to fp16 first.
__device__ int affine_code(float x, float scale, float zero, int qmax) {
  if (scale == 0.0f) return 0;
  const float q = rintf(__fdiv_rn(__fsub_rn(x, zero), scale));
  return static_cast<int>(fminf(fmaxf(q, 0.0f), static_cast<float>(qmax)));
}

// x[j] holds element lane + 32 * j of the row (kPer = head_dim / 32 elements per lane).
template <int kPer>
__device__ void write_row(const KvPoolView& pool, size_t row, const float (&x)[kPer], int lane) {
  constexpr int D = kPer * 32;
  const KvFormat f = pool.layout.format;
  if (f == KvFormat::f16 || f == KvFormat::bf16) {
    uint16_t* dst = reinterpret_cast<uint16_t*>(pool.data) + row * D;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const uint16_t bits = f == KvFormat::f16 ? __half_as_ushort(__float2half_rn(x[j]))
                                               : __bfloat16_as_ushort(__float2bfloat16_rn(x[j]));
      dst[lane + 32 * j] = bits;
    }
  } else if (f == KvFormat::fp8_e4m3) {
    uint8_t* dst = pool.data + row * D;
#pragma unroll
    for (int j = 0; j < kPer; ++j)
      dst[lane + 32 * j] = __nv_cvt_float_to_fp8(__fdiv_rn(x[j], pool.fp8_scale), __NV_SATFINITE, __NV_E4M3);
  } else {
    const int qmax = f == KvFormat::int8 ? 255 : 15;
    float lo = x[0], hi = x[0];
#pragma unroll
    for (int j = 1; j < kPer; ++j) lo = fminf(lo, x[j]), hi = fmaxf(hi, x[j]);
    lo = warp_min(lo);
    hi = warp_max(hi);
    const __half scale_h = __float2half_rn(__fdiv_rn(__fsub_rn(hi, lo), static_cast<float>(qmax)));
    const __half zero_h = __float2half_rn(lo);
    const float scale = __half2float(scale_h), zero = __half2float(zero_h);
    if (f == KvFormat::int8) {
      uint8_t* dst = pool.data + row * D;
#pragma unroll
      for (int j = 0; j < kPer; ++j) dst[lane + 32 * j] = static_cast<uint8_t>(affine_code(x[j], scale, zero, qmax));
    } else {
      uint8_t* dst = pool.data + row * (D / 2);
#pragma unroll
      for (int j = 0; j < kPer; ++j) {
        const int code = affine_code(x[j], scale, zero, qmax);
        const int odd = __shfl_down_sync(0xFFFFFFFFu, code, 1);  // element + 1 lives in the next lane
        if (lane % 2 == 0) dst[(lane + 32 * j) / 2] = static_cast<uint8_t>(code | (odd << 4));
      }
    }
    if (lane == 0) {
      pool.params[row * 2] = __half_as_ushort(scale_h);
      pool.params[row * 2 + 1] = __half_as_ushort(zero_h);
    }
  }
}

template <int D>
__global__ void __launch_bounds__(kWarps * 32) rope_kv_write_kernel(const __grid_constant__ RopeKernelParams p) {
  constexpr int kPer = D / 32, kHalfPer = kPer / 2;  // pairs (i, i + D/2): j < kHalfPer and j + kHalfPer
  const int lane = threadIdx.x % 32;
  const int heads = p.n_q_heads + 2 * p.n_kv_heads;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (item >= static_cast<int64_t>(p.batch.n_tokens) * heads) return;
  const int token = static_cast<int>(item / heads), head = static_cast<int>(item % heads);
  int lo = 0, hi = p.batch.n_seqs - 1;  // the sequence holding the token: last seq with token_begin <= token
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (p.batch.token_begin[mid] <= token) lo = mid; else hi = mid - 1;
  }
  const int seq = lo;
  const int pos = p.batch.start_pos[seq] + token - p.batch.token_begin[seq];
  __half* src = p.qkv + token * p.row_stride + static_cast<int64_t>(head) * D;
  float x[kPer];
#pragma unroll
  for (int j = 0; j < kPer; ++j) x[j] = __half2float(src[lane + 32 * j]);

  if (head < p.n_q_heads + p.n_kv_heads) {
#pragma unroll
    for (int j = 0; j < kHalfPer; ++j) {
      const float angle = __fmul_rn(static_cast<float>(pos), p.inv_freq[lane + 32 * j]);
      const float c = static_cast<float>(cos(static_cast<double>(angle)));
      const float s = static_cast<float>(sin(static_cast<double>(angle)));
      const float a = x[j], b = x[j + kHalfPer];
      x[j] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
      x[j + kHalfPer] = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
    }
#pragma unroll
    for (int j = 0; j < kPer; ++j) src[lane + 32 * j] = __float2half_rn(x[j]);
  }
  if (head < p.n_q_heads) return;
  const bool is_k = head < p.n_q_heads + p.n_kv_heads;
  const int kv_head = head - p.n_q_heads - (is_k ? 0 : p.n_kv_heads);
  const KvPoolView& pool = is_k ? p.k_pool : p.v_pool;
  const int32_t* table = p.batch.block_tables + static_cast<size_t>(seq) * p.batch.block_table_stride;
  const size_t row = ((static_cast<size_t>(table[pos >> p.block_shift]) * p.n_kv_heads + kv_head) << p.block_shift) +
                     (pos & ((1 << p.block_shift) - 1));
  write_row<kPer>(pool, row, x, lane);
}

}  // namespace

Status rope_kv_write(const RopeKvWriteParams& p, cudaStream_t stream) {
  const KvPoolLayout& k = p.k_pool.layout;
  const int d = k.head_dim;
  if (k.block_size != p.v_pool.layout.block_size || k.n_kv_heads != p.v_pool.layout.n_kv_heads ||
      d != p.v_pool.layout.head_dim)
    return invalid_argument("rope_kv_write: K and V pools disagree on block_size, n_kv_heads or head_dim");
  if (k.block_size <= 0 || (k.block_size & (k.block_size - 1)) != 0)
    return invalid_argument("rope_kv_write: block_size must be a power of two");
  for (KvFormat f : {k.format, p.v_pool.layout.format}) {
    if (f == KvFormat::f32) return unsupported("rope_kv_write: the fp32 cache is CPU-only");
  }
  if (p.row_stride < static_cast<int64_t>(p.n_q_heads + 2 * k.n_kv_heads) * d)
    return invalid_argument("rope_kv_write: row_stride does not cover q, k and v");
  if (p.batch.n_tokens == 0) return {};
  int block_shift = 0;
  while ((1 << block_shift) < k.block_size) ++block_shift;
  const RopeKernelParams kp{.qkv = p.qkv, .row_stride = p.row_stride, .n_q_heads = p.n_q_heads,
                            .n_kv_heads = k.n_kv_heads, .inv_freq = p.inv_freq, .batch = p.batch,
                            .k_pool = p.k_pool, .v_pool = p.v_pool, .block_shift = block_shift};
  const int64_t items = static_cast<int64_t>(p.batch.n_tokens) * (p.n_q_heads + 2 * k.n_kv_heads);
  const unsigned grid = static_cast<unsigned>((items + kWarps - 1) / kWarps);
  if (d == 64) {
    rope_kv_write_kernel<64><<<grid, kWarps * 32, 0, stream>>>(kp);
  } else if (d == 128) {
    rope_kv_write_kernel<128><<<grid, kWarps * 32, 0, stream>>>(kp);
  } else {
    return unsupported("rope_kv_write: head_dim " + std::to_string(d) + " (supported: 64, 128)");
  }
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return {};
}

}  // namespace mixserve::cuda
