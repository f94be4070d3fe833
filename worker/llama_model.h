#pragma once
// The Llama-family forward pass (Llama 2/3, Mistral, Qwen2) of one tensor-parallel rank over a Backend:
// embedding -> per layer [RMSNorm -> fused QKV -> RoPE -> paged KV write -> attention -> O -> all-reduce ->
// residual + RMSNorm -> fused gate/up -> SiLU*mul -> down -> all-reduce] -> final norm -> LM head on the rows
// that need logits. Activations are f32.
// Thread-safety: one thread calls forward() at a time.
#include <cstdint>
#include <vector>

#include "comm/communicator.h"
#include "core/model_config.h"
#include "worker/backend.h"
#include "worker/kv_cache.h"
#include "worker/model_weights.h"
#include "worker/tp_plan.h"

namespace mixserve {

// The flattened batch of one step: the new tokens of every sequence, sequence after sequence.
struct ForwardBatch {
  std::vector<int32_t> token_ids;              // [n_tokens]
  std::vector<int32_t> positions;              // [n_tokens]
  std::vector<AttentionSequence> sequences;    // rows, start positions, block tables
  std::vector<int64_t> logit_rows;             // rows whose logits are wanted, in output order
};

class LlamaModel {
 public:
  LlamaModel(ModelConfig config, TpPlan plan, ModelWeights weights, Backend& backend, Communicator& comm);

  // Runs the batch, writing K/V into `cache`; logits of logit_rows into host [logit_rows.size()][vocab].
  Status forward(const ForwardBatch& batch, const KvCache& cache, std::vector<float>* logits);

  const ModelConfig& config() const { return config_; }
  const TpPlan& plan() const { return plan_; }
  size_t weight_bytes() const { return weights_.bytes; }

 private:
  struct Workspace {
    int64_t capacity_tokens = 0;
    DeviceBuffer residual, normed, qkv, attn, proj, gate_up, act, selected, logits;
  };
  void reserve(int64_t n_tokens, int64_t n_logit_rows);
  Status run_layer(int64_t layer, const ForwardBatch& batch, const KvCache& cache, bool first);

  ModelConfig config_;
  TpPlan plan_;
  ModelWeights weights_;
  Backend& backend_;
  Communicator& comm_;
  DeviceBuffer inv_freq_;
  Workspace ws_;
  int64_t logit_capacity_ = 0;
};

}  // namespace mixserve
