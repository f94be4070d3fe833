// Host side of decode: plan the split from the batch's shape and the kernel's occupancy, launch the split
// kernel, then the reduction that merges the splits' partial outputs by their log-sum-exps.
#include <cmath>

#include "kernels/cuda/attention/attention.h"
#include "kernels/cuda/attention/decode_kernel.cuh"
#include "kernels/cuda/attention/dispatch.h"
#include "kernels/cuda/common/cuda_check.h"

namespace mixserve::cuda {
namespace {

using attn::kStageTokens;

// One CTA per (query head, sequence), one thread per element of head_dim.
__global__ void decode_reduce_kernel(const float* ws_out, const float* ws_lse, __half* out, int n_splits, int d) {
  const size_t slot = static_cast<size_t>(blockIdx.y) * gridDim.x + blockIdx.x;  // seq * n_q_heads + head
  const float* lse = ws_lse + slot * n_splits;
  float lse_max = -INFINITY;
  for (int s = 0; s < n_splits; ++s) lse_max = fmaxf(lse_max, lse[s]);
  float weight_sum = 0.0f, acc = 0.0f;
  for (int s = 0; s < n_splits; ++s) {
    if (lse[s] == -INFINITY) continue;  // empty split: its ws_out was never written
    const float w = exp2f(lse[s] - lse_max);
    weight_sum += w;
    acc += w * ws_out[(slot * n_splits + s) * d + threadIdx.x];
  }
  out[slot * d + threadIdx.x] = __float2half_rn(acc / weight_sum);
}

Status check_params(const AttentionParams& p) {
  const KvPoolLayout& k = p.k_pool.layout;
  const KvPoolLayout& v = p.v_pool.layout;
  if (k.block_size != v.block_size || k.n_kv_heads != v.n_kv_heads || k.head_dim != v.head_dim)
    return invalid_argument("attention: K and V pools disagree on block_size, n_kv_heads or head_dim");
  if (k.block_size <= 0 || (k.block_size & (k.block_size - 1)) != 0)
    return invalid_argument("attention: block_size must be a power of two, got " + std::to_string(k.block_size));
  if (k.n_kv_heads <= 0 || p.n_q_heads % k.n_kv_heads != 0)
    return invalid_argument("attention: n_q_heads must be a multiple of n_kv_heads");
  const int group = p.n_q_heads / k.n_kv_heads;
  if (group > 16) return unsupported("attention: GQA group " + std::to_string(group) + " > 16 is not supported");
  if (p.q_row_stride < static_cast<int64_t>(p.n_q_heads) * k.head_dim || p.q_row_stride % 4 != 0)
    return invalid_argument("attention: q_row_stride must cover the heads and be a multiple of 4");
  return {};
}

int log2_exact(int x) {
  int s = 0;
  while ((1 << s) < x) ++s;
  return s;
}

float softmax_log2(const AttentionParams& p) { return p.softmax_scale * 1.4426950408889634f; }

}  // namespace

Result<DecodePlan> plan_decode(const AttentionParams& p, int sm_count) {
  MIXSERVE_RETURN_IF_ERROR(check_params(p));
  const KvPoolLayout& k = p.k_pool.layout;
  int blocks_per_sm = 0;
  MIXSERVE_RETURN_IF_ERROR(attn::dispatch_kv(k.format, p.v_pool.layout.format, k.head_dim, "plan_decode",
      [&]<KvFormat KF, KvFormat VF, int D>() -> Status {
        constexpr int kSmem = attn::DecodeSmem<KF, VF, D>::kBytes;
        auto kernel = attn::decode_kernel<KF, VF, D>;
        MIXSERVE_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem));
        MIXSERVE_CUDA_RETURN_IF_ERROR(
            cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_sm, kernel, attn::kDecodeThreads, kSmem));
        return {};
      }));
  // Enough CTAs for every SM to hold its full share, but no split shorter than a few stages: each CTA pays the
  // pipeline's fill and a merge.
  const int base_ctas = p.batch.n_seqs * k.n_kv_heads;
  const int want = std::max(1, blocks_per_sm) * sm_count;
  const int max_stages = std::max(1, (p.batch.max_kv_len + kStageTokens - 1) / kStageTokens);
  int n_splits = std::min((want + base_ctas - 1) / base_ctas, std::max(1, max_stages / 4));
  n_splits = std::max(1, n_splits);
  const int chunk_stages = (max_stages + n_splits - 1) / n_splits;
  DecodePlan plan;
  plan.chunk_tokens = chunk_stages * kStageTokens;
  plan.n_splits = (max_stages + chunk_stages - 1) / chunk_stages;
  if (plan.n_splits > 1) {
    const size_t slots = static_cast<size_t>(p.batch.n_seqs) * p.n_q_heads * plan.n_splits;
    plan.workspace_bytes = slots * (k.head_dim + 1) * sizeof(float);
  }
  return plan;
}

Status paged_decode(const AttentionParams& p, const DecodePlan& plan, void* workspace, cudaStream_t stream) {
  MIXSERVE_RETURN_IF_ERROR(check_params(p));
  if (p.batch.n_seqs == 0) return {};
  if (plan.n_splits > 1 && workspace == nullptr) return invalid_argument("paged_decode: the plan needs a workspace");
  if (static_cast<int64_t>(plan.n_splits) * plan.chunk_tokens < p.batch.max_kv_len)
    return invalid_argument("paged_decode: the plan does not cover max_kv_len");
  const KvPoolLayout& k = p.k_pool.layout;
  const size_t slots = static_cast<size_t>(p.batch.n_seqs) * p.n_q_heads * plan.n_splits;
  float* ws_out = static_cast<float*>(workspace);
  float* ws_lse = plan.n_splits > 1 ? ws_out + slots * k.head_dim : nullptr;
  return attn::dispatch_kv(k.format, p.v_pool.layout.format, k.head_dim, "paged_decode",
      [&]<KvFormat KF, KvFormat VF, int D>() -> Status {
        const attn::DecodeKernelParams kp{
            .q = p.q, .q_row_stride = p.q_row_stride, .out = p.out, .ws_out = ws_out, .ws_lse = ws_lse,
            .n_q_heads = p.n_q_heads, .group = p.n_q_heads / k.n_kv_heads, .n_splits = plan.n_splits,
            .chunk_tokens = plan.chunk_tokens,
            .score_scale_log2 = softmax_log2(p) * attn::dequant_factor<KF>(p.k_pool.fp8_scale),
            .out_factor = attn::dequant_factor<VF>(p.v_pool.fp8_scale),
            .batch = p.batch, .k_pool = p.k_pool, .v_pool = p.v_pool, .block_shift = log2_exact(k.block_size)};
        constexpr int kSmem = attn::DecodeSmem<KF, VF, D>::kBytes;
        auto kernel = attn::decode_kernel<KF, VF, D>;
        MIXSERVE_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem));
        const dim3 grid(plan.n_splits, k.n_kv_heads, p.batch.n_seqs);
        kernel<<<grid, attn::kDecodeThreads, kSmem, stream>>>(kp);
        MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
        if (plan.n_splits > 1) {
          decode_reduce_kernel<<<dim3(p.n_q_heads, p.batch.n_seqs), D, 0, stream>>>(ws_out, ws_lse, p.out,
                                                                                   plan.n_splits, D);
          MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
        }
        return {};
      });
}

}  // namespace mixserve::cuda
