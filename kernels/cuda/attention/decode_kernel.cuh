#pragma once
// Split-KV decode (flash-decoding). One CTA = (split, KV head, sequence); the group's query heads are the 16
// rows of the MMA tile (padded). Four warps each own one 16-token sub-tile of every 64-position stage and keep
// their own online softmax; stages stream through a kStages-deep cp.async pipeline; the warps are merged in
// shared memory at the end, and splits are merged by decode_reduce_kernel.
#include <cuda_fp16.h>

#include <cfloat>
#include <cstdint>

#include "kernels/cuda/attention/attention.h"
#include "kernels/cuda/attention/kv_tile.cuh"

namespace mixserve::cuda::attn {

constexpr int kDecodeThreads = 128;
constexpr int kDecodeStages = 3;

struct DecodeKernelParams {
  const __half* q;  // [n_seqs] rows of [n_q_heads][D]
  int64_t q_row_stride;
  __half* out;      // [n_seqs][n_q_heads][D], written when n_splits == 1
  float* ws_out;    // [n_seqs][n_q_heads][n_splits][D], when n_splits > 1
  float* ws_lse;    // [n_seqs][n_q_heads][n_splits], log2 domain
  int n_q_heads;
  int group;
  int n_splits;
  int chunk_tokens;
  float score_scale_log2;  // softmax_scale * log2(e) * K's dequant factor
  float out_factor;        // V's dequant factor
  PagedBatch batch;
  KvPoolView k_pool;
  KvPoolView v_pool;
  int block_shift;
};

template <KvFormat KF, KvFormat VF, int D>
struct DecodeSmem {
  static constexpr int kStageBytes = TileGeom<KF, D>::kBytes + TileGeom<VF, D>::kBytes;
  static constexpr int kPipeBytes = kDecodeStages * kStageBytes;
  static constexpr int kMergeBytes = (4 * 16 * D + 2 * 4 * 16) * 4;  // o[4 warps][16][D], m and l [4][16]
  static constexpr int kBytes = kPipeBytes > kMergeBytes ? kPipeBytes : kMergeBytes;
};

template <KvFormat KF, KvFormat VF, int D>
__global__ void __launch_bounds__(kDecodeThreads) decode_kernel(const __grid_constant__ DecodeKernelParams p) {
  static_assert(D == 64 || D == 128);
  using KG = TileGeom<KF, D>;
  extern __shared__ __align__(16) uint8_t smem[];
  const int split = blockIdx.x, kv_head = blockIdx.y, seq = blockIdx.z;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;

  const int kv_len = p.batch.start_pos[seq] + 1;
  const int begin = split * p.chunk_tokens;
  const int end = min(kv_len, begin + p.chunk_tokens);
  if (begin >= end) {  // an empty split (a shorter sequence of the batch): weight zero in the reduction
    for (int r = tid; r < p.group; r += kDecodeThreads)
      p.ws_lse[(static_cast<size_t>(seq) * p.n_q_heads + kv_head * p.group + r) * p.n_splits + split] = -INFINITY;
    return;
  }

  // qa: [D/16 k-steps][4] A fragments, rows g and g + 8 = query heads of the group (padding rows read 0).
  uint32_t qa[D / 16][4];
  {
    const __half* q_seq = p.q + static_cast<size_t>(p.batch.token_begin[seq]) * p.q_row_stride +
                          static_cast<size_t>(kv_head) * p.group * D;
    q_fragments<D>(g < p.group ? q_seq + g * D : nullptr, g + 8 < p.group ? q_seq + (g + 8) * D : nullptr, t, qa);
  }

  const RowLocator loc{p.batch.block_tables + static_cast<size_t>(seq) * p.batch.block_table_stride, p.block_shift,
                       p.k_pool.layout.n_kv_heads, kv_head};
  constexpr int kStageBytes = DecodeSmem<KF, VF, D>::kStageBytes;
  const int n_stages = (end - begin + kStageTokens - 1) / kStageTokens;
  auto issue = [&](int s) {
    uint8_t* stage = smem + (s % kDecodeStages) * kStageBytes;
    load_tile_async<KF, D, kDecodeThreads>(stage, p.k_pool, loc, begin + s * kStageTokens, end, tid);
    load_tile_async<VF, D, kDecodeThreads>(stage + KG::kBytes, p.v_pool, loc, begin + s * kStageTokens, end, tid);
  };
#pragma unroll
  for (int s = 0; s < kDecodeStages - 1; ++s) {
    if (s < n_stages) issue(s);
    cp_async_commit();
  }

  float o[D / 8][4] = {};  // [n-tile j][c regs]: rows g (0, 1) and g + 8 (2, 3)
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  for (int s = 0; s < n_stages; ++s) {
    cp_async_wait<kDecodeStages - 2>();
    __syncthreads();  // stage s landed for everyone; everyone is done with the slot refilled below
    if (s + kDecodeStages - 1 < n_stages) issue(s + kDecodeStages - 1);
    cp_async_commit();

    const uint8_t* stage = smem + (s % kDecodeStages) * kStageBytes;
    const int tok0 = warp * 16;  // this warp's sub-tile
    const int pos0 = begin + s * kStageTokens + tok0;
    if (pos0 >= end) continue;
    float sc[2][4] = {};  // S: [n-tile: tokens 0-7, 8-15][c regs]
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      uint32_t kb[D / 8];
      k_fragments<KF, D>(stage, tok0 + 8 * i + g, t, kb);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) mma_16816(sc[i], qa[kk], kb[2 * kk], kb[2 * kk + 1]);
    }
    float row_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int i = 0; i < 2; ++i) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int pos = pos0 + 8 * i + 2 * t + (e & 1);
        sc[i][e] = pos < end ? sc[i][e] * p.score_scale_log2 : -INFINITY;
        row_max[e >> 1] = fmaxf(row_max[e >> 1], sc[i][e]);
      }
    }
    uint32_t pa[4];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      row_max[r] = fmaxf(row_max[r], __shfl_xor_sync(0xFFFFFFFFu, row_max[r], 1));
      row_max[r] = fmaxf(row_max[r], __shfl_xor_sync(0xFFFFFFFFu, row_max[r], 2));
      const float m_new = fmaxf(m[r], row_max[r]);
      const float base = m_new == -INFINITY ? 0.0f : m_new;
      const float correction = exp2f(m[r] - base);
      m[r] = m_new;
      float p0[2][2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        p0[i][0] = exp2f(sc[i][2 * r] - base);
        p0[i][1] = exp2f(sc[i][2 * r + 1] - base);
      }
      l[r] = l[r] * correction + (p0[0][0] + p0[0][1]) + (p0[1][0] + p0[1][1]);
#pragma unroll
      for (int j = 0; j < D / 8; ++j) {
        o[j][2 * r] *= correction;
        o[j][2 * r + 1] *= correction;
      }
      pa[r] = pack_half2(p0[0][0], p0[0][1]);      // A regs 0 / 1: rows g / g+8, tokens 2t, 2t+1
      pa[2 + r] = pack_half2(p0[1][0], p0[1][1]);  // A regs 2 / 3: tokens 2t+8, 2t+9
    }
    uint32_t vb[D / 8][2];
    v_fragments<VF, D>(stage + KG::kBytes, tok0, g, t, vb);
#pragma unroll
    for (int j = 0; j < D / 8; ++j) mma_16816(o[j], pa, vb[j][0], vb[j][1]);
  }
  cp_async_wait<0>();
  __syncthreads();  // the pipeline's memory becomes the merge buffer

  float* s_o = reinterpret_cast<float*>(smem);  // [4 warps][16 rows][D]
  float* s_m = s_o + 4 * 16 * D;                // [4][16]
  float* s_l = s_m + 4 * 16;                    // [4][16]
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xFFFFFFFFu, l[r], 1);
    l[r] += __shfl_xor_sync(0xFFFFFFFFu, l[r], 2);
    const int row = g + 8 * r;
    if (t == 0) {
      s_m[warp * 16 + row] = m[r];
      s_l[warp * 16 + row] = l[r];
    }
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      s_o[(warp * 16 + row) * D + (2 * t) * (D / 8) + j] = o[j][2 * r];
      s_o[(warp * 16 + row) * D + (2 * t + 1) * (D / 8) + j] = o[j][2 * r + 1];
    }
  }
  __syncthreads();
  for (int idx = tid; idx < p.group * D; idx += kDecodeThreads) {
    const int row = idx / D, d = idx % D;
    float m_all = -INFINITY;
#pragma unroll
    for (int w = 0; w < 4; ++w) m_all = fmaxf(m_all, s_m[w * 16 + row]);
    float l_all = 0.0f, o_all = 0.0f;
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const float mw = s_m[w * 16 + row];
      if (mw == -INFINITY) continue;  // a warp that saw no position of this split
      const float weight = exp2f(mw - m_all);
      l_all += s_l[w * 16 + row] * weight;
      o_all += s_o[(w * 16 + row) * D + d] * weight;
    }
    const float value = o_all / l_all * p.out_factor;
    const int head = kv_head * p.group + row;
    if (p.n_splits == 1) {
      p.out[(static_cast<size_t>(seq) * p.n_q_heads + head) * D + d] = __float2half_rn(value);
    } else {
      const size_t slot = (static_cast<size_t>(seq) * p.n_q_heads + head) * p.n_splits + split;
      p.ws_out[slot * D + d] = value;
      if (d == 0) p.ws_lse[slot] = m_all + log2f(l_all);
    }
  }
}

}  // namespace mixserve::cuda::attn
