#pragma once
// Device building blocks shared by the decode and prefill kernels: the shared-memory stage of 64 KV positions
// (filled by cp.async straight from the paged pools), dequantization of cache rows to fp16 pairs in
// registers, and the mma.sync.m16n8k16 fragments built from them.
//
// Fragment layouts (g = lane / 4, t = lane % 4). Because a dot product does not care in which order its terms
// are summed, each thread owns contiguous runs of head_dim, so its shared-memory reads are 8-32 byte vectors:
//   S = Q K^T, k = head_dim: thread t owns d in [t*D/4, (t+1)*D/4); k-step kk uses d = t*D/4 + 4kk + {0,1,2,3}
//     (A regs 0/1 and B reg 0 take +{0,1}; A regs 2/3 and B reg 1 take +{2,3}). Q is loaded the same way.
//   O = P V, n = head_dim: n-tile j, column g is d = g*D/8 + j, so thread g reads D/8 contiguous values of each
//     of its four tokens (2t, 2t+1, 2t+8, 2t+9 of the 16-token sub-tile); the C fragment's columns 2t, 2t+1
//     of n-tile j are d = 2t*D/8 + j and (2t+1)*D/8 + j.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/formats/kv_format.h"

namespace mixserve::cuda::attn {

constexpr int kStageTokens = 64;  // KV positions per pipeline stage: four 16-token sub-tiles
constexpr int kRowPad = 16;       // bytes after each shared row: shifts rows across banks

template <KvFormat F>
struct FormatTraits;
template <> struct FormatTraits<KvFormat::f16> { static constexpr int kBits = 16; static constexpr bool kParams = false; };
template <> struct FormatTraits<KvFormat::bf16> { static constexpr int kBits = 16; static constexpr bool kParams = false; };
template <> struct FormatTraits<KvFormat::fp8_e4m3> { static constexpr int kBits = 8; static constexpr bool kParams = false; };
template <> struct FormatTraits<KvFormat::int8> { static constexpr int kBits = 8; static constexpr bool kParams = true; };
template <> struct FormatTraits<KvFormat::int4> { static constexpr int kBits = 4; static constexpr bool kParams = true; };

// One pool's rows of a stage in shared memory: [kStageTokens][kStride] bytes, then [kStageTokens] param words.
template <KvFormat F, int D>
struct TileGeom {
  static constexpr int kRowBytes = D * FormatTraits<F>::kBits / 8;
  static constexpr int kStride = kRowBytes + kRowPad;
  static constexpr int kChunks = kRowBytes / 16;
  static constexpr int kRowsBytes = kStageTokens * kStride;
  static constexpr int kBytes = kRowsBytes + (FormatTraits<F>::kParams ? kStageTokens * 4 : 0);
  static_assert(kRowBytes % 16 == 0, "a cache row must be a whole number of 16-byte chunks");
};

__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, int src_bytes) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_4(void* smem, const void* gmem, int src_bytes) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// Where KV position `pos` of a sequence lives, as a row index of the pool (see KvPoolLayout::row_index).
struct RowLocator {
  const int32_t* table;  // the sequence's block table
  int block_shift;       // log2(block_size)
  int n_kv_heads;
  int head;
  __device__ __forceinline__ size_t row(int pos) const {
    const int bs = 1 << block_shift;
    return ((static_cast<size_t>(table[pos >> block_shift]) * n_kv_heads + head) << block_shift) + (pos & (bs - 1));
  }
};

// Issues the copies of positions [pos0, pos0 + 64) into one pool's part of a stage; positions >= kv_end are
// zero-filled so that masked columns multiply finite values (0 * NaN garbage would poison the output).
template <KvFormat F, int D, int kThreads>
__device__ __forceinline__ void load_tile_async(uint8_t* s_tile, const KvPoolView& pool, const RowLocator& loc,
                                                int pos0, int kv_end, int tid) {
  using G = TileGeom<F, D>;
#pragma unroll
  for (int c = tid; c < kStageTokens * G::kChunks; c += kThreads) {
    const int tok = c / G::kChunks, chunk = c % G::kChunks;
    const int pos = pos0 + tok;
    const bool valid = pos < kv_end;
    const uint8_t* src = valid ? pool.data + loc.row(pos) * G::kRowBytes + chunk * 16 : pool.data;
    cp_async_16(s_tile + tok * G::kStride + chunk * 16, src, valid ? 16 : 0);
  }
  if constexpr (FormatTraits<F>::kParams) {
    for (int tok = tid; tok < kStageTokens; tok += kThreads) {
      const int pos = pos0 + tok;
      const bool valid = pos < kv_end;
      const uint16_t* src = valid ? pool.params + loc.row(pos) * 2 : pool.params;
      cp_async_4(s_tile + G::kRowsBytes + tok * 4, src, valid ? 4 : 0);
    }
  }
}

// Reads kBytes (4..64, a power of two) of shared memory into words with the widest vector loads that fit.
template <int kBytes>
__device__ __forceinline__ void load_words(const uint8_t* p, uint32_t (&w)[kBytes / 4]) {
  if constexpr (kBytes >= 16) {
#pragma unroll
    for (int i = 0; i < kBytes / 16; ++i) {
      const uint4 v = reinterpret_cast<const uint4*>(p)[i];
      w[4 * i] = v.x; w[4 * i + 1] = v.y; w[4 * i + 2] = v.z; w[4 * i + 3] = v.w;
    }
  } else if constexpr (kBytes == 8) {
    const uint2 v = *reinterpret_cast<const uint2*>(p);
    w[0] = v.x; w[1] = v.y;
  } else {
    w[0] = *reinterpret_cast<const uint32_t*>(p);
  }
}

__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
  uint32_t r;
  asm("prmt.b32 %0, %1, %2, %3;\n" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
  return r;
}
__device__ __forceinline__ uint32_t h2_bits(__half2 h) { return *reinterpret_cast<uint32_t*>(&h); }
__device__ __forceinline__ __half2 bits_h2(uint32_t u) { return *reinterpret_cast<__half2*>(&u); }

// (1024 + q) halves -> q * scale + zero. The codes sit in the mantissa of 1024 (0x6400), exact for q < 1024.
__device__ __forceinline__ uint32_t affine_from_magic(uint32_t magic, __half2 scale, __half2 zero) {
  const __half2 q = __hsub2(bits_h2(magic), bits_h2(0x64006400u));
  return h2_bits(__hfma2(q, scale, zero));
}

// kN elements of one cache row (kN * bits / 8 bytes at `src`, shared memory) -> kN / 2 fp16 pairs in order.
// fp8 comes out divided by 256 (its bits moved into fp16's exponent and mantissa, no multiply): the factor
// and the pool's scale are applied to the scores or the output instead, exactly.
template <KvFormat F, int kN>
__device__ __forceinline__ void dequant_row(const uint8_t* src, uint32_t scale_zero, uint32_t (&out)[kN / 2]) {
  constexpr int kBytes = kN * FormatTraits<F>::kBits / 8;
  uint32_t w[kBytes / 4];
  load_words<kBytes>(src, w);
  if constexpr (F == KvFormat::f16) {
#pragma unroll
    for (int i = 0; i < kN / 2; ++i) out[i] = w[i];
  } else if constexpr (F == KvFormat::bf16) {
#pragma unroll
    for (int i = 0; i < kN / 2; ++i)
      out[i] = h2_bits(__floats2half2_rn(__uint_as_float(w[i] << 16), __uint_as_float(w[i] & 0xFFFF0000u)));
  } else if constexpr (F == KvFormat::fp8_e4m3) {
#pragma unroll
    for (int i = 0; i < kN / 4; ++i) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const uint32_t p = prmt(w[i], 0, h == 0 ? 0x4140u : 0x4342u);  // bytes 2h, 2h+1 -> low bytes of halves
        out[2 * i + h] = ((p & 0x007F007Fu) << 7) | ((p & 0x00800080u) << 8);
      }
    }
  } else if constexpr (F == KvFormat::int8) {
    const __half2 scale = bits_h2(prmt(scale_zero, 0, 0x1010u)), zero = bits_h2(prmt(scale_zero, 0, 0x3232u));
#pragma unroll
    for (int i = 0; i < kN / 4; ++i) {
      out[2 * i] = affine_from_magic(prmt(w[i], 0x64646464u, 0x5140u), scale, zero);
      out[2 * i + 1] = affine_from_magic(prmt(w[i], 0x64646464u, 0x5342u), scale, zero);
    }
  } else {
    static_assert(F == KvFormat::int4);
    const __half2 scale = bits_h2(prmt(scale_zero, 0, 0x1010u)), zero = bits_h2(prmt(scale_zero, 0, 0x3232u));
#pragma unroll
    for (int i = 0; i < kN / 8; ++i) {
      const uint32_t lo = w[i] & 0x0F0F0F0Fu, hi = (w[i] >> 4) & 0x0F0F0F0Fu;  // even / odd elements
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const uint32_t pair = prmt(lo, hi, 0x4400u + 0x1111u * k);  // byte k of lo and of hi
        out[4 * i + k] = affine_from_magic((pair & 0x00FF00FFu) | 0x64006400u, scale, zero);
      }
    }
  }
}

template <KvFormat F, int D>
__device__ __forceinline__ uint32_t row_params(const uint8_t* s_tile, int tok) {
  if constexpr (FormatTraits<F>::kParams) {
    return reinterpret_cast<const uint32_t*>(s_tile + TileGeom<F, D>::kRowsBytes)[tok];
  } else {
    return 0;
  }
}

// B fragments of S = Q K^T for the thread's token `tok` of the stage: kb[2kk], kb[2kk+1] for k-step kk.
template <KvFormat F, int D>
__device__ __forceinline__ void k_fragments(const uint8_t* s_tile, int tok, int t, uint32_t (&kb)[D / 8]) {
  using G = TileGeom<F, D>;
  dequant_row<F, D / 4>(s_tile + tok * G::kStride + t * (G::kRowBytes / 4), row_params<F, D>(s_tile, tok), kb);
}

// B fragments of O += P V for the 16-token sub-tile at `tok0`: vb[j][0..1] for n-tile j (D / 8 of them).
template <KvFormat F, int D>
__device__ __forceinline__ void v_fragments(const uint8_t* s_tile, int tok0, int g, int t, uint32_t (&vb)[D / 8][2]) {
  using G = TileGeom<F, D>;
  uint32_t rows[4][D / 16];  // tokens 2t, 2t+1, 2t+8, 2t+9: D/8 values from d = g*D/8
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int tok = tok0 + 2 * t + (r & 1) + (r >> 1) * 8;
    dequant_row<F, D / 8>(s_tile + tok * G::kStride + g * (G::kRowBytes / 8), row_params<F, D>(s_tile, tok), rows[r]);
  }
#pragma unroll
  for (int j = 0; j < D / 8; ++j) {
    const uint32_t sel = (j & 1) ? 0x7632u : 0x5410u;  // high or low halves of the two tokens' words
    vb[j][0] = prmt(rows[0][j / 2], rows[1][j / 2], sel);
    vb[j][1] = prmt(rows[2][j / 2], rows[3][j / 2], sel);
  }
}

__device__ __forceinline__ void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// A fragments of Q for rows (query heads or tokens) whose pointers are row_lo (g) and row_hi (g + 8);
// nullptr rows are padding and read as zero.
template <int D>
__device__ __forceinline__ void q_fragments(const __half* row_lo, const __half* row_hi, int t, uint32_t (&qa)[D / 16][4]) {
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const int d = t * (D / 4) + 4 * kk;
    const uint2 lo = row_lo ? *reinterpret_cast<const uint2*>(row_lo + d) : make_uint2(0, 0);
    const uint2 hi = row_hi ? *reinterpret_cast<const uint2*>(row_hi + d) : make_uint2(0, 0);
    qa[kk][0] = lo.x; qa[kk][1] = hi.x; qa[kk][2] = lo.y; qa[kk][3] = hi.y;
  }
}

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) { return h2_bits(__floats2half2_rn(lo, hi)); }

// Factor that turns dequantized values into real ones (fp8 comes out of dequant_row divided by 256).
template <KvFormat F>
__host__ __device__ inline float dequant_factor(float fp8_scale) {
  return F == KvFormat::fp8_e4m3 ? 256.0f * fp8_scale : 1.0f;
}

}  // namespace mixserve::cuda::attn
