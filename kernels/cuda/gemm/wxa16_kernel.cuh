#pragma once
// The weight-only GEMM kernel, y^T = W x^T with W as mma.sync's A operand (16 output channels per tile) and
// the tokens as B (8 per tile), so a decode step with one token wastes 7/8 of the B tile, not 15/16 of A.
//
// Each warp streams its own warp_tiles 16-row tiles of W straight from global memory into registers
// (one 16-byte load per lane per tile and 64-column chunk, kPrefetch chunks ahead); x goes through a
// multi-stage cp.async pipeline in shared memory (XOR-swizzled, read by ldmatrix) and is shared by all warps
// of the block. Dequantization happens in registers right before the MMA. Split-K: blocks of one output tile
// write fp32 partials; the last to arrive (a counter per tile) sums them in split order, so results are
// deterministic, and resets the counter.
//
// A format (Int4Format<wide groups>, Int8Format, Fp8Format) says where a lane's weight words are, how they become A
// fragments, and which scales the epilogue applies. Int4/Int8 read the mma_v1 fragment-ordered layout, and x is
// read by ldmatrix in the MMA's own k order. Fp8 reads plain row-major bytes (kLaneContiguousK): lane (g, t) takes
// 16 contiguous bytes of a row per chunk, which puts physical columns 16 t + 4 s + {0..3} into step s's logical
// k slots {2t, 2t+1, 2t+8, 2t+9}; the sum over k does not care about the order, so x is read with the same
// permutation (one 16-byte shared load per lane per step pair) instead of reordering the weights.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/gemm/mma_ops.cuh"
#include "kernels/cuda/gemm/wxa16_params.h"

namespace mixserve::cuda::gemm {


// mma_v1: the kWords 16-byte words of a lane for (tile, chunk) are kWords * 32 uint4 apart.
template <int kWords>
__device__ __forceinline__ const uint4* fragment_ordered_word(const WxA16Params& p, int tile, int chunk, int lane,
                                                              int v) {
  return p.q + (static_cast<int64_t>(tile) * p.n_chunks + chunk) * kWords * 32 + v * 32 + lane;
}

// kWideGroups: group size >= 64, so a 64-column chunk lies in one group and one scale word serves its four
// steps (half the scale registers and loads, and the scale broadcasts are shared by the steps); group 32 needs
// the words of two groups per chunk.
template <bool kWideGroups>
struct Int4Format {
  static constexpr int kWords = 1;  // uint4 per lane per (tile, chunk)
  static constexpr bool kLaneContiguousK = false;
  static __device__ __forceinline__ const uint4* word(const WxA16Params& p, int tile, int chunk, int lane, int v) {
    return fragment_ordered_word<kWords>(p, tile, chunk, lane, v);
  }
  struct Scale {
    uint2 a;  // group of steps 0-1 (all four steps when kWideGroups)
    uint2 b;  // group of steps 2-3 (unused when kWideGroups)
  };
  static __device__ __forceinline__ Scale load_scale(const WxA16Params& p, int tile, int chunk, int g) {
    const uint2* s = static_cast<const uint2*>(p.scales) + static_cast<int64_t>(tile) * p.n_groups_pad * 8 + g;
    const int grp_a = chunk * 64 / p.group_size;
    if constexpr (kWideGroups) {
      return {__ldg(s + grp_a * 8), {}};
    } else {
      const int grp_b = (chunk * 64 + 32) / p.group_size;
      return {__ldg(s + grp_a * 8), __ldg(s + grp_b * 8)};
    }
  }
  template <typename T>
  static __device__ __forceinline__ void dequant(const uint4 (&w)[1], const Scale& s, int step, uint32_t (&a)[4]) {
    const uint2 sz = kWideGroups || step < 2 ? s.a : s.b;  // .x = {s_g, s_g8}, .y = {zz_g, zz_g8}
    const uint32_t ss_lo = prmt(sz.x, 0, 0x1010), ss_hi = prmt(sz.x, 0, 0x3232);
    const uint32_t zz_lo = prmt(sz.y, 0, 0x1010), zz_hi = prmt(sz.y, 0, 0x3232);
    const uint32_t word = step == 0 ? w[0].x : step == 1 ? w[0].y : step == 2 ? w[0].z : w[0].w;
    dequant_int4_step<T>(word, zz_lo, ss_lo, zz_hi, ss_hi, a);
  }
  static __device__ __forceinline__ float channel_scale(const WxA16Params&, int) { return 1.0f; }
  static __device__ __forceinline__ float token_scale(const WxA16Params&, int) { return 1.0f; }
};

struct Int8Format {
  static constexpr int kWords = 2;
  static constexpr bool kLaneContiguousK = false;
  static __device__ __forceinline__ const uint4* word(const WxA16Params& p, int tile, int chunk, int lane, int v) {
    return fragment_ordered_word<kWords>(p, tile, chunk, lane, v);
  }
  struct Scale {};
  static __device__ __forceinline__ Scale load_scale(const WxA16Params&, int, int, int) { return {}; }
  template <typename T>
  static __device__ __forceinline__ void dequant(const uint4 (&w)[2], const Scale&, int step, uint32_t (&a)[4]) {
    const uint4& v = w[step >> 1];
    if (step & 1) {
      dequant_int8_step<T>(v.z, v.w, a);
    } else {
      dequant_int8_step<T>(v.x, v.y, a);
    }
  }
  static __device__ __forceinline__ float channel_scale(const WxA16Params& p, int row) {
    return __ldg(static_cast<const float*>(p.scales) + row);
  }
  static __device__ __forceinline__ float token_scale(const WxA16Params&, int) { return 1.0f; }
};

// fp8 e4m3 W8A8: weights row-major [n_pad][k_pad] bytes; x is the per-token quantized activation as fp16 values
// of its e4m3 codes (exact), so the MMA multiplies codes exactly and the epilogue applies s_w[n] * s_x[m].
// Word v of lane (g, t) is bytes [16 t, 16 t + 16) of row 16 tile + g + 8 v in the chunk; its 32-bit part s is
// step s: bytes {0, 1} are logical k {2t, 2t+1}, bytes {2, 3} are {2t+8, 2t+9}.
struct Fp8Format {
  static constexpr int kWords = 2;
  static constexpr bool kLaneContiguousK = true;
  static __device__ __forceinline__ const uint4* word(const WxA16Params& p, int tile, int chunk, int lane, int v) {
    const int64_t row = static_cast<int64_t>(tile) * 16 + lane / 4 + 8 * v;
    return p.q + (row * p.n_chunks + chunk) * 4 + lane % 4;  // a row is n_chunks * 64 bytes = n_chunks * 4 uint4
  }
  struct Scale {};
  static __device__ __forceinline__ Scale load_scale(const WxA16Params&, int, int, int) { return {}; }
  template <typename T>
  static __device__ __forceinline__ void dequant(const uint4 (&w)[2], const Scale&, int step, uint32_t (&a)[4]) {
    static_assert(!kIsBf16<T>, "fp8 codes are fed to the MMA as fp16");
    const uint32_t row_g = step == 0 ? w[0].x : step == 1 ? w[0].y : step == 2 ? w[0].z : w[0].w;
    const uint32_t row_g8 = step == 0 ? w[1].x : step == 1 ? w[1].y : step == 2 ? w[1].z : w[1].w;
    a[0] = e4m3x2_to_f16x2(row_g & 0xFFFFu);
    a[1] = e4m3x2_to_f16x2(row_g8 & 0xFFFFu);
    a[2] = e4m3x2_to_f16x2(row_g >> 16);
    a[3] = e4m3x2_to_f16x2(row_g8 >> 16);
  }
  static __device__ __forceinline__ float channel_scale(const WxA16Params& p, int row) {
    return __ldg(static_cast<const float*>(p.scales) + row);
  }
  static __device__ __forceinline__ float token_scale(const WxA16Params& p, int m) { return __ldg(p.token_scales + m); }
};

template <typename T>
__device__ __forceinline__ T from_float(float v) {
  if constexpr (kIsBf16<T>) {
    return __float2bfloat16_rn(v);
  } else {
    return __float2half_rn(v);
  }
}

// T: the dtype of x and of the MMA; TY: the dtype of y (differs only for fp8, whose x is fp16 codes).
template <class Fmt, typename T, typename TY, int kBlockM, int kWarps, int kWarpTiles, int kPrefetch, int kStages>
__global__ void __launch_bounds__(kWarps * 32) wxa16_kernel(const __grid_constant__ WxA16Params p) {
  static_assert(kBlockM % 8 == 0 && kStages >= 2 && kPrefetch >= 1);
  constexpr int kThreads = kWarps * 32;
  constexpr int kStageCols = 64 * kPrefetch;        // x columns per stage (one stage per unrolled loop trip)
  constexpr int kStageElems = kBlockM * kStageCols;
  constexpr int kMTiles = kBlockM / 8;
  constexpr int kW = Fmt::kWords;
  extern __shared__ uint4 smem[];
  T* sX = reinterpret_cast<T*>(smem);  // [kStages][kBlockM][kStageCols], 16-byte units XOR-swizzled by row

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int m0 = blockIdx.x * kBlockM;
  const int tile0 = (blockIdx.y * kWarps + warp) * kWarpTiles;  // first 16-row tile of W of this warp
  const int n_tiles = p.n_pad / 16;
  const int c_begin = blockIdx.z * p.chunks_per_split;
  const int c_end = min(p.n_chunks, c_begin + p.chunks_per_split);
  const T* gX = static_cast<const T*>(p.x);

  // Stage s holds chunks [c, c + kPrefetch): row r, 16-byte unit u at r * kStageCols + (u ^ (r & 7)) * 8.
  auto load_x_stage = [&](int stage, int c) {
    T* dst = sX + stage * kStageElems;
    for (int i = threadIdx.x; i < kBlockM * kStageCols / 8; i += kThreads) {
      const int r = i / (kStageCols / 8), u = i % (kStageCols / 8);
      const int col = c * 64 + u * 8;
      const bool valid = m0 + r < p.m && col < p.k && c + u / 8 < c_end;
      const T* src = valid ? gX + static_cast<int64_t>(m0 + r) * p.k + col : gX;
      cp_async_16(dst + r * kStageCols + (u ^ (r & 7)) * 8, src, valid);
    }
  };

  uint4 rW[kPrefetch][kWarpTiles][kW];                  // weights of chunks in flight
  typename Fmt::Scale rS[kPrefetch][kWarpTiles];
  auto load_w = [&](uint4 (&w)[kWarpTiles][kW], typename Fmt::Scale (&s)[kWarpTiles], int c) {
#pragma unroll
    for (int i = 0; i < kWarpTiles; ++i) {
      const int tile = tile0 + i;
      if (c < c_end && tile < n_tiles) {
#pragma unroll
        for (int v = 0; v < kW; ++v) w[i][v] = load_stream(Fmt::word(p, tile, c, lane, v));
        s[i] = Fmt::load_scale(p, tile, c, g);
      }
    }
  };

#pragma unroll
  for (int s = 0; s < kPrefetch; ++s) load_w(rW[s], rS[s], c_begin + s);
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    load_x_stage(s, c_begin + s * kPrefetch);
    cp_async_commit();
  }

  float acc[kWarpTiles][kMTiles][4] = {};
  int trip = 0;
  for (int base = c_begin; base < c_end; base += kPrefetch, ++trip) {
    cp_async_wait<kStages - 2>();
    __syncthreads();  // stage `trip` landed for all; everyone is done reading the stage refilled next
    load_x_stage((trip + kStages - 1) % kStages, base + (kStages - 1) * kPrefetch);
    cp_async_commit();
    const T* stage = sX + (trip % kStages) * kStageElems;
#pragma unroll
    for (int pp = 0; pp < kPrefetch; ++pp) {
      if (base + pp < c_end) {
#pragma unroll
        for (int pair = 0; pair < 2; ++pair) {
          uint32_t a[kWarpTiles][2][4];  // [tile][step 2 pair + h] A fragments
#pragma unroll
          for (int i = 0; i < kWarpTiles; ++i)
#pragma unroll
            for (int h = 0; h < 2; ++h) Fmt::template dequant<T>(rW[pp][i], rS[pp][i], pair * 2 + h, a[i][h]);
#pragma unroll
          for (int j = 0; j < kMTiles; ++j) {
            uint32_t b[4];  // {b0, b1} of step 2 pair, {b0, b1} of step 2 pair + 1, tokens m0 + 8 j ..
            if constexpr (Fmt::kLaneContiguousK) {
              const int r = j * 8 + g;                 // this lane's token
              const int u = pp * 8 + 2 * t + pair;     // columns 16 t + 8 pair .. + 7 of chunk pp
              lds_128(b, stage + r * kStageCols + (u ^ (r & 7)) * 8);
            } else {
              const int r = j * 8 + (lane & 7);
              const int u = pp * 8 + pair * 4 + lane / 8;
              ldmatrix_x4(b, stage + r * kStageCols + (u ^ (r & 7)) * 8);
            }
#pragma unroll
            for (int i = 0; i < kWarpTiles; ++i)
#pragma unroll
              for (int h = 0; h < 2; ++h) mma_16816<T>(acc[i][j], a[i][h], b[2 * h], b[2 * h + 1]);
          }
        }
        load_w(rW[pp], rS[pp], base + pp + kPrefetch);
      }
    }
  }
  cp_async_wait<0>();

  // Accumulator (i, j, e): row (tile0 + i) * 16 + g + 8 (e >> 1), token m0 + 8 j + 2 t + (e & 1).
  // Writes every output element of this thread, y = value(i, j, e, m, row) * channel scale, in the dtype of y.
  TY* gY = static_cast<TY*>(p.y);
  auto write_outputs = [&](auto value) {
#pragma unroll
    for (int i = 0; i < kWarpTiles; ++i) {
#pragma unroll
      for (int e2 = 0; e2 < 2; ++e2) {
        const int row = (tile0 + i) * 16 + g + 8 * e2;
        if (row >= p.n) continue;
        const float s = Fmt::channel_scale(p, row);
#pragma unroll
        for (int j = 0; j < kMTiles; ++j) {
#pragma unroll
          for (int e1 = 0; e1 < 2; ++e1) {
            const int m = m0 + 8 * j + 2 * t + e1;
            if (m < p.m) {
              gY[static_cast<int64_t>(m) * p.n + row] =
                  from_float<TY>(value(i, j, 2 * e2 + e1, m, row) * s * Fmt::token_scale(p, m));
            }
          }
        }
      }
    }
  };
  if (p.splits == 1) {
    write_outputs([&](int i, int j, int e, int, int) { return acc[i][j][e]; });
    return;
  }

  auto partial_at = [&](int split, int m, int row) {
    return p.partials + (static_cast<int64_t>(split) * p.m_pad + m) * p.n_pad + row;
  };
#pragma unroll
  for (int i = 0; i < kWarpTiles; ++i) {
    if (tile0 + i >= n_tiles) continue;
#pragma unroll
    for (int j = 0; j < kMTiles; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        __stcg(partial_at(blockIdx.z, m0 + 8 * j + 2 * t + (e & 1), (tile0 + i) * 16 + g + 8 * (e >> 1)),
               acc[i][j][e]);
  }
  __threadfence();
  __syncthreads();
  __shared__ int is_last;
  int* counter = p.counters + blockIdx.x * gridDim.y + blockIdx.y;
  if (threadIdx.x == 0) is_last = atomicAdd(counter, 1) == p.splits - 1;
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  if (threadIdx.x == 0) *counter = 0;  // all splits have arrived: ready for the next run
  write_outputs([&](int, int, int, int m, int row) {
    float sum = 0;
    for (int sp = 0; sp < p.splits; ++sp) sum += __ldcg(partial_at(sp, m, row));  // split order: deterministic
    return sum;
  });
}

}  // namespace mixserve::cuda::gemm
