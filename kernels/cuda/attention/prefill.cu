// Causal flash-attention prefill over the paged cache. One CTA = (64-row tile, KV head, sequence), where row
// r of a sequence is (token r / group, query head r % group of the KV head): one pass over the keys serves
// the whole group. Each of the four warps owns 16 rows and the full width of every 64-position stage; the
// keys come through a two-stage cp.async pipeline, dequantized in registers; softmax state is fp32.
#include <cfloat>
#include <cmath>

#include "kernels/cuda/attention/attention.h"
#include "kernels/cuda/attention/dispatch.h"
#include "kernels/cuda/attention/kv_tile.cuh"
#include "kernels/cuda/common/cuda_check.h"

namespace mixserve::cuda {
namespace attn {

constexpr int kPrefillThreads = 128;
constexpr int kPrefillStages = 2;
constexpr int kPrefillRows = 64;

struct PrefillKernelParams {
  const __half* q;
  int64_t q_row_stride;
  __half* out;
  int n_q_heads;
  int group;
  float score_scale_log2;
  float out_factor;
  PagedBatch batch;
  KvPoolView k_pool;
  KvPoolView v_pool;
  int block_shift;
};

template <KvFormat KF, KvFormat VF, int D>
__global__ void __launch_bounds__(kPrefillThreads) prefill_kernel(const __grid_constant__ PrefillKernelParams p) {
  using KG = TileGeom<KF, D>;
  constexpr int kStageBytes = TileGeom<KF, D>::kBytes + TileGeom<VF, D>::kBytes;
  extern __shared__ __align__(16) uint8_t smem[];
  // Heaviest (latest) tiles first, so the causal triangle's long tiles do not trail the launch.
  const int tile = gridDim.x - 1 - blockIdx.x, kv_head = blockIdx.y, seq = blockIdx.z;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int token_begin = p.batch.token_begin[seq];
  const int n_new = p.batch.token_begin[seq + 1] - token_begin;
  const int start_pos = p.batch.start_pos[seq];
  const int row0 = tile * kPrefillRows;
  if (row0 >= n_new * p.group) return;

  // The thread's two rows (g, g + 8 of its warp): their token, query head and position (-1: padding row).
  int pos_row[2];
  const __half* q_row[2];
  __half* out_row[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = row0 + warp * 16 + g + 8 * r;
    const int token = row / p.group, head = kv_head * p.group + row % p.group;
    const bool valid = token < n_new;
    pos_row[r] = valid ? start_pos + token : -1;
    q_row[r] = valid ? p.q + static_cast<size_t>(token_begin + token) * p.q_row_stride + static_cast<size_t>(head) * D
                     : nullptr;
    out_row[r] = valid ? p.out + (static_cast<size_t>(token_begin + token) * p.n_q_heads + head) * D : nullptr;
  }
  uint32_t qa[D / 16][4];
  q_fragments<D>(q_row[0], q_row[1], t, qa);
  const int warp_last_row = min(row0 + warp * 16 + 15, n_new * p.group - 1);
  const int warp_max_pos = start_pos + warp_last_row / p.group;
  const int cta_last_row = min(row0 + kPrefillRows - 1, n_new * p.group - 1);
  const int kv_end = start_pos + cta_last_row / p.group + 1;  // causal: the tile's last token sees [0, kv_end)

  const RowLocator loc{p.batch.block_tables + static_cast<size_t>(seq) * p.batch.block_table_stride, p.block_shift,
                       p.k_pool.layout.n_kv_heads, kv_head};
  const int n_stages = (kv_end + kStageTokens - 1) / kStageTokens;
  auto issue = [&](int s) {
    uint8_t* stage = smem + (s % kPrefillStages) * kStageBytes;
    load_tile_async<KF, D, kPrefillThreads>(stage, p.k_pool, loc, s * kStageTokens, kv_end, tid);
    load_tile_async<VF, D, kPrefillThreads>(stage + KG::kBytes, p.v_pool, loc, s * kStageTokens, kv_end, tid);
  };
#pragma unroll
  for (int s = 0; s < kPrefillStages - 1; ++s) {
    if (s < n_stages) issue(s);
    cp_async_commit();
  }

  float o[D / 8][4] = {};
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  for (int s = 0; s < n_stages; ++s) {
    cp_async_wait<kPrefillStages - 2>();
    __syncthreads();
    if (s + kPrefillStages - 1 < n_stages) issue(s + kPrefillStages - 1);
    cp_async_commit();
    const int pos0 = s * kStageTokens;
    if (pos0 > warp_max_pos) continue;  // every key of this stage is in the future of the warp's rows
    const uint8_t* stage = smem + (s % kPrefillStages) * kStageBytes;

    float sc[8][4] = {};  // S: [n-tile: 8 positions each][c regs]
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      uint32_t kb[D / 8];
      k_fragments<KF, D>(stage, 8 * n + g, t, kb);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) mma_16816(sc[n], qa[kk], kb[2 * kk], kb[2 * kk + 1]);
    }
    float row_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int pos = pos0 + 8 * n + 2 * t + (e & 1);
        sc[n][e] = pos <= pos_row[e >> 1] ? sc[n][e] * p.score_scale_log2 : -INFINITY;
        row_max[e >> 1] = fmaxf(row_max[e >> 1], sc[n][e]);
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      row_max[r] = fmaxf(row_max[r], __shfl_xor_sync(0xFFFFFFFFu, row_max[r], 1));
      row_max[r] = fmaxf(row_max[r], __shfl_xor_sync(0xFFFFFFFFu, row_max[r], 2));
      const float m_new = fmaxf(m[r], row_max[r]);
      const float base = m_new == -INFINITY ? 0.0f : m_new;
      const float correction = exp2f(m[r] - base);
      m[r] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int n = 0; n < 8; ++n) {
        sc[n][2 * r] = exp2f(sc[n][2 * r] - base);
        sc[n][2 * r + 1] = exp2f(sc[n][2 * r + 1] - base);
        sum += sc[n][2 * r] + sc[n][2 * r + 1];
      }
      l[r] = l[r] * correction + sum;
#pragma unroll
      for (int j = 0; j < D / 8; ++j) {
        o[j][2 * r] *= correction;
        o[j][2 * r + 1] *= correction;
      }
    }
#pragma unroll
    for (int u = 0; u < 4; ++u) {  // 16-position sub-tiles: P's A fragments are S's C fragments
      const uint32_t pa[4] = {pack_half2(sc[2 * u][0], sc[2 * u][1]), pack_half2(sc[2 * u][2], sc[2 * u][3]),
                              pack_half2(sc[2 * u + 1][0], sc[2 * u + 1][1]),
                              pack_half2(sc[2 * u + 1][2], sc[2 * u + 1][3])};
      uint32_t vb[D / 8][2];
      v_fragments<VF, D>(stage + KG::kBytes, 16 * u, g, t, vb);
#pragma unroll
      for (int j = 0; j < D / 8; ++j) mma_16816(o[j], pa, vb[j][0], vb[j][1]);
    }
  }
  cp_async_wait<0>();

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xFFFFFFFFu, l[r], 1);
    l[r] += __shfl_xor_sync(0xFFFFFFFFu, l[r], 2);
    if (out_row[r] == nullptr) continue;
    const float inv = p.out_factor / l[r];
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      out_row[r][(2 * t) * (D / 8) + j] = __float2half_rn(o[j][2 * r] * inv);
      out_row[r][(2 * t + 1) * (D / 8) + j] = __float2half_rn(o[j][2 * r + 1] * inv);
    }
  }
}

}  // namespace attn

Status paged_prefill(const AttentionParams& p, cudaStream_t stream) {
  const KvPoolLayout& k = p.k_pool.layout;
  if (k.block_size != p.v_pool.layout.block_size || k.n_kv_heads != p.v_pool.layout.n_kv_heads ||
      k.head_dim != p.v_pool.layout.head_dim)
    return invalid_argument("paged_prefill: K and V pools disagree on block_size, n_kv_heads or head_dim");
  if (k.block_size <= 0 || (k.block_size & (k.block_size - 1)) != 0)
    return invalid_argument("paged_prefill: block_size must be a power of two");
  if (k.n_kv_heads <= 0 || p.n_q_heads % k.n_kv_heads != 0)
    return invalid_argument("paged_prefill: n_q_heads must be a multiple of n_kv_heads");
  if (p.q_row_stride % 4 != 0) return invalid_argument("paged_prefill: q_row_stride must be a multiple of 4");
  if (p.batch.n_seqs == 0 || p.batch.max_new == 0) return {};
  int block_shift = 0;
  while ((1 << block_shift) < k.block_size) ++block_shift;
  const int group = p.n_q_heads / k.n_kv_heads;
  return attn::dispatch_kv(k.format, p.v_pool.layout.format, k.head_dim, "paged_prefill",
      [&]<KvFormat KF, KvFormat VF, int D>() -> Status {
        const attn::PrefillKernelParams kp{
            .q = p.q, .q_row_stride = p.q_row_stride, .out = p.out, .n_q_heads = p.n_q_heads, .group = group,
            .score_scale_log2 = p.softmax_scale * 1.4426950408889634f * attn::dequant_factor<KF>(p.k_pool.fp8_scale),
            .out_factor = attn::dequant_factor<VF>(p.v_pool.fp8_scale),
            .batch = p.batch, .k_pool = p.k_pool, .v_pool = p.v_pool, .block_shift = block_shift};
        constexpr int kSmem = attn::kPrefillStages * (attn::TileGeom<KF, D>::kBytes + attn::TileGeom<VF, D>::kBytes);
        auto kernel = attn::prefill_kernel<KF, VF, D>;
        MIXSERVE_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem));
        const int n_tiles = (p.batch.max_new * group + attn::kPrefillRows - 1) / attn::kPrefillRows;
        kernel<<<dim3(n_tiles, k.n_kv_heads, p.batch.n_seqs), attn::kPrefillThreads, kSmem, stream>>>(kp);
        MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
        return {};
      });
}

}  // namespace mixserve::cuda
