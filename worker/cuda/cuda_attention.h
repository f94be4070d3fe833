#pragma once
// The CUDA backend's attention op for one layer and step, over kernels/cuda/attention:
//   1. rope_kv_write: RoPE on Q and K (inv_freq from cpu::rope_inv_freq, so llama3/linear scaling are the CPU's),
//      K and V quantized into their paged pools (any K x V format pair the kernels instantiate);
//   2. paged_decode for the step's sequences with one new token (split-KV, planned per call from the batch);
//   3. paged_prefill for those with several (causal, reading earlier context and the new tokens from the cache).
// Sequences and block tables come from a CudaAttentionStep prepared once per step (worker/cuda/cuda_attention_step.h).
//
// The kernels take fp16 activations and expect the sorted row order of the step (decodes first). The op runs
// them in place on the caller's qkv and out when that is already so (fp16, rows in order, 16-byte aligned);
// otherwise it gathers the rows into an fp16 staging buffer (bf16 -> fp16 is exact inside fp16's normal range,
// |x| in [2^-14, 65504]; beyond 65504 it saturates) and scatters the output back, rounding to bf16 if needed.
// Either way qkv is scratch afterwards: in place, its Q and K are rotated (and rounded to fp16).
//
// Host-side plan, device-side run: buffers (fp16 staging, the decode split workspace) grow, after a stream
// synchronization, only when a step needs more than any before; reserve() sizes them up front.
// Thread-safety: one owner thread; every run goes on the step's stream.
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>

#include "core/model_config.h"
#include "core/status.h"
#include "kernels/cuda/attention/device_batch.h"
#include "kernels/cuda/gemm/gemm.h"
#include "kernels/formats/kv_format.h"
#include "worker/cuda/cuda_attention_step.h"

namespace mixserve {

struct CudaAttentionConfig {
  cuda::ActDtype act = cuda::ActDtype::f16;
  int n_q_heads = 0;   // this rank's
  int n_kv_heads = 0;  // this rank's; n_q_heads / n_kv_heads <= 16
  int head_dim = 0;    // 64 or 128
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  float softmax_scale = 0.0f;  // 0: 1 / sqrt(head_dim)
};

// One layer's tensors for one step (device memory).
struct CudaAttentionLayer {
  void* qkv = nullptr;         // row r at qkv + r * qkv_row_stride: [q: n_q_heads][k: n_kv_heads][v: n_kv_heads]
                               // x head_dim values of config.act (the fused QKV linear's output); scratch
  int64_t qkv_row_stride = 0;  // elements
  void* out = nullptr;         // [n_rows][n_q_heads][head_dim] of config.act, dense; rows of no sequence untouched
  KvPoolView k_pool;
  KvPoolView v_pool;
};

class CudaAttention {
 public:
  static Result<std::unique_ptr<CudaAttention>> create(const CudaAttentionConfig& config);
  const CudaAttentionConfig& config() const { return config_; }

  // Staging for steps of up to n_tokens tokens taking the gather path.
  Status reserve(int64_t n_tokens);
  Status run(const CudaAttentionStep& step, const CudaAttentionLayer& layer);
  // Whether run() works on the caller's qkv and out directly (no gather/scatter) for this step and layer.
  bool runs_in_place(const CudaAttentionStep& step, const CudaAttentionLayer& layer) const;

 private:
  CudaAttention() = default;
  Status check(const CudaAttentionStep& step, const CudaAttentionLayer& layer) const;
  Status ensure_staging(int64_t n_tokens, cudaStream_t stream);
  Status run_decode(const CudaAttentionStep& step, const cuda::AttentionParams& params);
  int64_t qkv_cols() const { return static_cast<int64_t>(config_.n_q_heads + 2 * config_.n_kv_heads) * config_.head_dim; }
  int64_t out_cols() const { return static_cast<int64_t>(config_.n_q_heads) * config_.head_dim; }

  CudaAttentionConfig config_;
  int sm_count_ = 0;
  cuda::DeviceBytes inv_freq_;    // fp32 [head_dim / 2]
  cuda::DeviceBytes qkv_stage_;   // fp16 [staged_tokens_][qkv_cols]
  cuda::DeviceBytes out_stage_;   // fp16 [staged_tokens_][out_cols]
  int64_t staged_tokens_ = 0;
  cuda::DeviceBytes decode_workspace_;
};

}  // namespace mixserve
