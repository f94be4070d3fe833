#pragma once
// What a synthetic checkpoint holds: the tensors of a HF Llama/Qwen2 state dict with their shapes and how
// each is initialized, and how they are split into shard files.
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_config.h"
#include "tools/synth/weight_generator.h"

namespace mixserve::tools {

// One bf16 tensor to synthesize.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  WeightInit init;
  int64_t numel() const;
  uint64_t n_bytes() const { return static_cast<uint64_t>(numel()) * 2; }  // bf16
};

// Every tensor of the checkpoint in HF state-dict order: embedding; per layer q, k, v, o (each weight then
// bias), gate, up, down, input and post-attention norms; final norm; lm_head unless tied. Scales (standard
// deviations) keep a forward pass at O(1) activations with non-degenerate attention: linear weights and
// lm_head 1/sqrt(in_features), embeddings 1 (1/sqrt(hidden) when tied, as they are the LM head too), biases
// 0.5; norm weights are 1 + U(-0.2, 0.2).
std::vector<TensorSpec> checkpoint_tensors(const ModelConfig& config);

// Splits tensors into shards the way huggingface_hub does (split_state_dict_into_shards_factory): walking in
// order, a tensor that would push the current shard past max_shard_bytes starts a new one, and a tensor
// larger than the limit gets a shard of its own. Every tensor is in exactly one shard.
std::vector<std::vector<TensorSpec>> plan_shards(const std::vector<TensorSpec>& tensors, uint64_t max_shard_bytes);

// "model-00002-of-00004.safetensors" for shard index 1 of 4.
std::string shard_file_name(size_t index, size_t n_shards);

}  // namespace mixserve::tools
