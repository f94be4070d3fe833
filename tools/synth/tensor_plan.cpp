#include "tools/synth/tensor_plan.h"

#include <cmath>
#include <cstdio>

namespace mixserve::tools {

namespace {

WeightInit linear_init(int64_t in_features) {
  return {.kind = WeightInit::Kind::normal, .scale = 1.0 / std::sqrt(static_cast<double>(in_features))};
}
constexpr WeightInit kEmbeddingInit{.kind = WeightInit::Kind::normal, .scale = 1.0};
constexpr WeightInit kNormInit{.kind = WeightInit::Kind::one_plus_uniform, .scale = 0.2};
// Biases large enough to matter against the O(1) projections, so a loader that drops them fails the goldens.
constexpr WeightInit kBiasInit{.kind = WeightInit::Kind::normal, .scale = 0.5};

void add_linear(std::vector<TensorSpec>& out, const std::string& prefix, int64_t out_features, int64_t in_features,
                bool bias) {
  out.push_back({prefix + ".weight", {out_features, in_features}, linear_init(in_features)});
  if (bias) out.push_back({prefix + ".bias", {out_features}, kBiasInit});
}

}  // namespace

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return n;
}

std::vector<TensorSpec> checkpoint_tensors(const ModelConfig& config) {
  const int64_t hidden = config.hidden_size;
  std::vector<TensorSpec> out;
  // A tied embedding is also the LM head: at N(0, 1) the logits would have stddev sqrt(hidden) and every
  // position would predict its own input token with probability ~1. Scaled like a head it keeps the output
  // distribution soft; the first RMSNorm makes the small inputs O(1) anyway.
  const WeightInit embedding_init = config.tie_word_embeddings ? linear_init(hidden) : kEmbeddingInit;
  out.push_back({"model.embed_tokens.weight", {config.vocab_size, hidden}, embedding_init});
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const std::string layer = "model.layers." + std::to_string(i);
    const bool qkv_bias = config.attention_bias;
    add_linear(out, layer + ".self_attn.q_proj", config.q_size(), hidden, qkv_bias);
    add_linear(out, layer + ".self_attn.k_proj", config.kv_size(), hidden, qkv_bias);
    add_linear(out, layer + ".self_attn.v_proj", config.kv_size(), hidden, qkv_bias);
    // Qwen2 has no o_proj bias; Llama's attention_bias covers o_proj too.
    add_linear(out, layer + ".self_attn.o_proj", hidden, config.q_size(),
               qkv_bias && config.architecture != Architecture::qwen2);
    add_linear(out, layer + ".mlp.gate_proj", config.intermediate_size, hidden, false);
    add_linear(out, layer + ".mlp.up_proj", config.intermediate_size, hidden, false);
    add_linear(out, layer + ".mlp.down_proj", hidden, config.intermediate_size, false);
    out.push_back({layer + ".input_layernorm.weight", {hidden}, kNormInit});
    out.push_back({layer + ".post_attention_layernorm.weight", {hidden}, kNormInit});
  }
  out.push_back({"model.norm.weight", {hidden}, kNormInit});
  if (!config.tie_word_embeddings) out.push_back({"lm_head.weight", {config.vocab_size, hidden}, linear_init(hidden)});
  return out;
}

std::vector<std::vector<TensorSpec>> plan_shards(const std::vector<TensorSpec>& tensors, uint64_t max_shard_bytes) {
  std::vector<std::vector<TensorSpec>> shards;
  std::vector<TensorSpec> current;
  uint64_t current_bytes = 0;
  for (const auto& t : tensors) {
    if (t.n_bytes() > max_shard_bytes) {
      shards.push_back({t});
      continue;
    }
    if (current_bytes + t.n_bytes() > max_shard_bytes) {
      shards.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.push_back(t);
    current_bytes += t.n_bytes();
  }
  if (!current.empty()) shards.push_back(std::move(current));
  return shards;
}

std::string shard_file_name(size_t index, size_t n_shards) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", index + 1, n_shards);
  return name;
}

}  // namespace mixserve::tools
