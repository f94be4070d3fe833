#pragma once
// The model's shape and numerics, read from a HF `config.json` of LlamaForCausalLM, MistralForCausalLM or
// Qwen2ForCausalLM. Anything the engine does not implement (another architecture, an unknown rope_scaling
// type, sliding windows that bind) is an error at load, never a silently different model.
#include <cstdint>
#include <string>
#include <vector>

#include "core/quantization_config.h"
#include "core/status.h"

namespace mixserve {

enum class Architecture { llama, mistral, qwen2 };
const char* architecture_name(Architecture arch);  // the HF class name, e.g. "LlamaForCausalLM"

enum class RopeScalingType { none, linear, llama3 };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::none;
  double factor = 1.0;
  // llama3 only:
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
  bool operator==(const RopeScaling&) const = default;
};

struct ModelConfig {
  Architecture architecture = Architecture::llama;
  std::string model_type;  // "llama", "mistral", "qwen2"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads when absent
  int64_t head_dim = 0;             // defaults to hidden_size / num_attention_heads when absent or null
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // Qwen2: always true for q/k/v; Llama: from "attention_bias"
  bool mlp_bias = false;        // must be false; true is rejected (not implemented)
  std::string torch_dtype;      // "bfloat16", "float16", "float32" as written (informational)
  std::vector<int64_t> eos_token_ids;  // from config.json (int or list); generation_config.json may add more
  int64_t bos_token_id = -1;
  QuantizationConfig quantization;  // from "quantization_config" (core/quantization_config.h); none if absent

  int64_t q_size() const { return num_attention_heads * head_dim; }
  int64_t kv_size() const { return num_key_value_heads * head_dim; }
  int64_t group_size() const { return num_attention_heads / num_key_value_heads; }
  bool operator==(const ModelConfig&) const = default;
};

// Parses config.json text; `source` names the file in error messages.
Result<ModelConfig> parse_model_config(const std::string& json_text, const std::string& source);
// Reads DIR/config.json, and DIR/generation_config.json when present (its eos_token_id list is merged).
Result<ModelConfig> load_model_config(const std::string& model_dir);
// Serializes to a HF-compatible config.json (what `mixserve synth` writes).
std::string model_config_to_json(const ModelConfig& config);

}  // namespace mixserve
