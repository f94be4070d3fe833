#include "worker/cuda/cuda_attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/rope.h"
#include "kernels/cuda/attention/attention.h"
#include "kernels/cuda/common/cuda_check.h"
#include "worker/cuda/activation_rows.h"

namespace mixserve {
namespace {

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

Status check_pool(const KvPoolView& pool, const char* which, const CudaAttentionConfig& c,
                  const CudaAttentionStep& step) {
  const KvPoolLayout& l = pool.layout;
  const std::string name = std::string("CUDA attention: ") + which + " pool";
  if (l.format == KvFormat::f32) return unsupported(name + " is fp32, which only the CPU reference reads");
  if (l.n_kv_heads != c.n_kv_heads || l.head_dim != c.head_dim)
    return invalid_argument(name + " has " + std::to_string(l.n_kv_heads) + " heads of " +
                            std::to_string(l.head_dim) + ", the op " + std::to_string(c.n_kv_heads) + " of " +
                            std::to_string(c.head_dim));
  if (l.block_size != step.block_size() || l.n_blocks < step.n_blocks())
    return invalid_argument(name + " does not have the block size / block count the step was prepared for");
  if (pool.data == nullptr || (kv_format_has_params(l.format) && pool.params == nullptr))
    return invalid_argument(name + " has no device memory");
  return {};
}

}  // namespace

Result<std::unique_ptr<CudaAttention>> CudaAttention::create(const CudaAttentionConfig& config) {
  const CudaAttentionConfig& c = config;
  if (c.head_dim != 64 && c.head_dim != 128)
    return unsupported("CUDA attention: head_dim " + std::to_string(c.head_dim) + " (supported: 64, 128)");
  if (c.n_kv_heads <= 0 || c.n_q_heads <= 0 || c.n_q_heads % c.n_kv_heads != 0)
    return invalid_argument("CUDA attention: n_q_heads must be a positive multiple of n_kv_heads");
  if (c.n_q_heads / c.n_kv_heads > 16)
    return unsupported("CUDA attention: GQA group " + std::to_string(c.n_q_heads / c.n_kv_heads) + " > 16");
  std::unique_ptr<CudaAttention> op(new CudaAttention());
  op->config_ = c;
  if (op->config_.softmax_scale == 0.0f) op->config_.softmax_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  int device = 0;
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&op->sm_count_, cudaDevAttrMultiProcessorCount, device));
  const std::vector<float> inv_freq = cpu::rope_inv_freq(c.head_dim, c.rope_theta, c.rope_scaling);
  MIXSERVE_ASSIGN_OR_RETURN(op->inv_freq_, cuda::upload_vector(inv_freq));
  return op;
}

Status CudaAttention::reserve(int64_t n_tokens) { return ensure_staging(n_tokens, nullptr); }

Status CudaAttention::ensure_staging(int64_t n_tokens, cudaStream_t stream) {
  if (n_tokens <= staged_tokens_) return {};
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));  // in-flight kernels may use the old staging
  const int64_t tokens = std::max(n_tokens, 2 * staged_tokens_);
  MIXSERVE_ASSIGN_OR_RETURN(qkv_stage_, cuda::DeviceBytes::allocate(static_cast<size_t>(tokens * qkv_cols()) * 2));
  MIXSERVE_ASSIGN_OR_RETURN(out_stage_, cuda::DeviceBytes::allocate(static_cast<size_t>(tokens * out_cols()) * 2));
  staged_tokens_ = tokens;
  return {};
}

bool CudaAttention::runs_in_place(const CudaAttentionStep& step, const CudaAttentionLayer& layer) const {
  return config_.act == cuda::ActDtype::f16 && step.rows_in_order() && aligned16(layer.qkv) && aligned16(layer.out) &&
         layer.qkv_row_stride % 8 == 0;
}

Status CudaAttention::check(const CudaAttentionStep& step, const CudaAttentionLayer& layer) const {
  if (layer.qkv == nullptr || layer.out == nullptr) return invalid_argument("CUDA attention: null qkv or out");
  if (layer.qkv_row_stride < qkv_cols())
    return invalid_argument("CUDA attention: qkv_row_stride " + std::to_string(layer.qkv_row_stride) +
                            " does not cover q, k and v (" + std::to_string(qkv_cols()) + ")");
  MIXSERVE_RETURN_IF_ERROR(check_pool(layer.k_pool, "K", config_, step));
  return check_pool(layer.v_pool, "V", config_, step);
}

Status CudaAttention::run(const CudaAttentionStep& step, const CudaAttentionLayer& layer) {
  MIXSERVE_RETURN_IF_ERROR(check(step, layer));
  const int n_tokens = step.n_tokens();
  if (n_tokens == 0) return {};
  cudaStream_t stream = step.stream();
  const bool in_place = runs_in_place(step, layer);
  __half* qkv = static_cast<__half*>(layer.qkv);  // [n_tokens][qkv_cols] in sorted row order, fp16
  int64_t stride = layer.qkv_row_stride;
  __half* out = static_cast<__half*>(layer.out);  // [n_tokens][out_cols] in sorted row order, fp16
  if (!in_place) {
    MIXSERVE_RETURN_IF_ERROR(ensure_staging(n_tokens, stream));
    qkv = qkv_stage_.as<__half>();
    stride = qkv_cols();
    out = out_stage_.as<__half>();
    MIXSERVE_RETURN_IF_ERROR(cuda::copy_rows({.src = layer.qkv, .src_dtype = config_.act,
                                              .src_stride = layer.qkv_row_stride, .src_rows = step.row_of(),
                                              .dst = qkv, .dst_dtype = cuda::ActDtype::f16, .dst_stride = stride,
                                              .n_rows = n_tokens, .cols = qkv_cols()},
                                             stream));
  }
  MIXSERVE_RETURN_IF_ERROR(cuda::rope_kv_write({.qkv = qkv, .row_stride = stride, .n_q_heads = config_.n_q_heads,
                                                .inv_freq = inv_freq_.as<float>(), .batch = step.all(),
                                                .k_pool = layer.k_pool, .v_pool = layer.v_pool},
                                               stream));
  cuda::AttentionParams params{.q = qkv, .q_row_stride = stride, .out = out, .n_q_heads = config_.n_q_heads,
                               .softmax_scale = config_.softmax_scale, .k_pool = layer.k_pool,
                               .v_pool = layer.v_pool};
  if (step.decodes().n_seqs > 0) {
    params.batch = step.decodes();
    MIXSERVE_RETURN_IF_ERROR(run_decode(step, params));
  }
  if (step.prefills().n_seqs > 0) {
    params.batch = step.prefills();
    MIXSERVE_RETURN_IF_ERROR(cuda::paged_prefill(params, stream));
  }
  if (in_place) return {};
  return cuda::copy_rows({.src = out, .src_dtype = cuda::ActDtype::f16, .src_stride = out_cols(), .dst = layer.out,
                          .dst_dtype = config_.act, .dst_stride = out_cols(), .dst_rows = step.row_of(),
                          .n_rows = n_tokens, .cols = out_cols()},
                         stream);
}

// Decode writes its output at row = sequence index of its batch, which is the sorted row because decodes come
// first in the step (one token each).
Status CudaAttention::run_decode(const CudaAttentionStep& step, const cuda::AttentionParams& params) {
  MIXSERVE_ASSIGN_OR_RETURN(cuda::DecodePlan plan, cuda::plan_decode(params, sm_count_));
  if (plan.workspace_bytes > decode_workspace_.size()) {
    MIXSERVE_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(step.stream()));  // the old workspace may be in use
    MIXSERVE_ASSIGN_OR_RETURN(decode_workspace_,
                              cuda::DeviceBytes::allocate(std::max(plan.workspace_bytes, 2 * decode_workspace_.size())));
  }
  return cuda::paged_decode(params, plan, decode_workspace_.get(), step.stream());
}

}  // namespace mixserve
