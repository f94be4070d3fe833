// The synthetic model presets: shapes and numerics of real model families, small enough for CPU tests where
// named "tiny".
#include "tools/synth/synth.h"

namespace mixserve::tools {

namespace {

constexpr RopeScaling kLlama3RopeScaling{.type = RopeScalingType::llama3,
                                         .factor = 8.0,
                                         .low_freq_factor = 1.0,
                                         .high_freq_factor = 4.0,
                                         .original_max_position_embeddings = 8192};

ModelConfig llama3_config() {
  ModelConfig c;
  c.architecture = Architecture::llama;
  c.model_type = "llama";
  c.vocab_size = 128256;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 500000.0;
  c.rope_scaling = kLlama3RopeScaling;
  c.tie_word_embeddings = false;
  c.torch_dtype = "bfloat16";
  c.bos_token_id = 128000;
  c.eos_token_ids = {128001, 128008, 128009};
  return c;
}

// Llama-3 numerics (vocab, RoPE with llama3 scaling, eps, special tokens) at a width a CPU runs in milliseconds;
// 4 heads over 2 KV heads exercise GQA.
ModelConfig tiny_config() {
  ModelConfig c = llama3_config();
  c.hidden_size = 128;
  c.intermediate_size = 384;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 32;
  c.max_position_embeddings = 4096;
  return c;
}

ModelConfig llama3_8b_config() {
  ModelConfig c = llama3_config();
  c.hidden_size = 4096;
  c.intermediate_size = 14336;
  c.num_hidden_layers = 32;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 8;
  c.head_dim = 128;
  c.max_position_embeddings = 131072;
  return c;
}

// Qwen2's differences from Llama in one small model: q/k/v biases, tied embeddings, another vocab and theta.
ModelConfig qwen2_tiny_config() {
  ModelConfig c;
  c.architecture = Architecture::qwen2;
  c.model_type = "qwen2";
  c.vocab_size = 151936;
  c.hidden_size = 128;
  c.intermediate_size = 352;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 32;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 1000000.0;
  c.tie_word_embeddings = true;
  c.attention_bias = true;
  c.torch_dtype = "bfloat16";
  c.bos_token_id = 151643;
  c.eos_token_ids = {151645, 151643};
  return c;
}

struct Preset {
  const char* name;
  ModelConfig (*config)();
};

constexpr Preset kPresets[] = {
    {"tiny", tiny_config},
    {"qwen2-tiny", qwen2_tiny_config},
    {"llama3-8b", llama3_8b_config},
};

}  // namespace

std::vector<std::string> synth_preset_names() {
  std::vector<std::string> names;
  for (const auto& p : kPresets) names.emplace_back(p.name);
  return names;
}

Result<ModelConfig> synth_preset_config(const std::string& preset) {
  for (const auto& p : kPresets) {
    if (preset == p.name) return p.config();
  }
  std::string valid;
  for (const auto& p : kPresets) valid += std::string(valid.empty() ? "" : ", ") + p.name;
  return invalid_argument("unknown preset '" + preset + "' (valid: " + valid + ")");
}

}  // namespace mixserve::tools
