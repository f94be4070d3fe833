#include "core/model_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace mixserve {
namespace {

using nlohmann::json;

// Reads typed fields of one JSON object; every error names the file and the field (with `prefix` for
// nested objects, e.g. "rope_scaling.").
class FieldReader {
 public:
  FieldReader(const json& object, std::string source, std::string prefix = "")
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  // Absent and null both mean "not given", as in HF configs.
  bool has(const char* name) const {
    auto it = object_.find(name);
    return it != object_.end() && !it->is_null();
  }

  Result<int64_t> required_int(const char* name) const {
    if (!has(name)) return error(name, "is required but missing");
    return int_field(name);
  }
  Result<int64_t> optional_int(const char* name, int64_t fallback) const {
    return has(name) ? int_field(name) : Result<int64_t>(fallback);
  }
  Result<double> optional_number(const char* name, double fallback) const {
    if (!has(name)) return fallback;
    const json& value = object_.at(name);
    if (!value.is_number()) return wrong_type(name, "a number", value);
    return value.get<double>();
  }
  Result<double> required_number(const char* name) const {
    if (!has(name)) return error(name, "is required but missing");
    return optional_number(name, 0.0);
  }
  Result<bool> optional_bool(const char* name, bool fallback) const {
    if (!has(name)) return fallback;
    const json& value = object_.at(name);
    if (!value.is_boolean()) return wrong_type(name, "a boolean", value);
    return value.get<bool>();
  }
  Result<std::string> optional_string(const char* name, const std::string& fallback) const {
    if (!has(name)) return fallback;
    const json& value = object_.at(name);
    if (!value.is_string()) return wrong_type(name, "a string", value);
    return value.get<std::string>();
  }
  // An int or a list of ints (eos_token_id); absent or null gives an empty list.
  Result<std::vector<int64_t>> int_or_int_list(const char* name) const {
    std::vector<int64_t> out;
    if (!has(name)) return out;
    const json& value = object_.at(name);
    if (value.is_number_integer()) {
      out.push_back(value.get<int64_t>());
      return out;
    }
    if (!value.is_array()) return wrong_type(name, "an integer or a list of integers", value);
    for (const json& item : value) {
      if (!item.is_number_integer()) return wrong_type(name, "an integer or a list of integers", value);
      out.push_back(item.get<int64_t>());
    }
    return out;
  }

  Status error(const char* name, const std::string& what) const {
    return invalid_argument(source_ + ": field \"" + prefix_ + name + "\" " + what);
  }
  Status wrong_type(const char* name, const char* expected, const json& value) const {
    return error(name, std::string("must be ") + expected + ", got " + value.type_name() + " " + value.dump());
  }

 private:
  Result<int64_t> int_field(const char* name) const {
    const json& value = object_.at(name);
    if (!value.is_number_integer() ||
        (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))) {
      return wrong_type(name, "an integer", value);
    }
    return value.get<int64_t>();
  }

  const json& object_;
  std::string source_;
  std::string prefix_;
};

struct ArchitectureInfo {
  Architecture arch;
  const char* class_name;
  const char* model_type;
};
constexpr ArchitectureInfo kArchitectures[] = {
    {Architecture::llama, "LlamaForCausalLM", "llama"},
    {Architecture::mistral, "MistralForCausalLM", "mistral"},
    {Architecture::qwen2, "Qwen2ForCausalLM", "qwen2"},
};

const ArchitectureInfo& architecture_info(Architecture arch) {
  for (const ArchitectureInfo& info : kArchitectures) {
    if (info.arch == arch) return info;
  }
  return kArchitectures[0];  // unreachable: the table lists every enumerator
}

Result<Architecture> parse_architecture(const json& root, const FieldReader& fields, const std::string& source) {
  if (!fields.has("architectures")) return fields.error("architectures", "is required but missing");
  const json& list = root.at("architectures");
  if (!list.is_array() || list.empty() || !list[0].is_string()) {
    return fields.wrong_type("architectures", "a non-empty list of strings", list);
  }
  const std::string name = list[0].get<std::string>();
  for (const ArchitectureInfo& info : kArchitectures) {
    if (name == info.class_name) return info.arch;
  }
  return unsupported(source + ": architecture \"" + name +
                     "\" is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM are)");
}

// rope_scaling (HF 4.x) or rope_parameters (HF 5.x, which also carries rope_theta).
Status parse_rope(const json& root, const std::string& source, ModelConfig* config) {
  const char* key = "rope_scaling";
  auto it = root.find("rope_parameters");
  if (it != root.end() && !it->is_null()) {
    key = "rope_parameters";
  } else {
    it = root.find("rope_scaling");
    if (it == root.end() || it->is_null()) return Status::ok_status();
  }
  if (!it->is_object()) return FieldReader(root, source).wrong_type(key, "an object or null", *it);
  const FieldReader fields(*it, source, std::string(key) + ".");
  MIXSERVE_ASSIGN_OR_RETURN(std::string type, fields.optional_string("type", "default"));
  MIXSERVE_ASSIGN_OR_RETURN(type, fields.optional_string("rope_type", type));
  MIXSERVE_ASSIGN_OR_RETURN(config->rope_theta, fields.optional_number("rope_theta", config->rope_theta));
  RopeScaling& scaling = config->rope_scaling;
  if (type == "default") {
    scaling = RopeScaling{};
    return Status::ok_status();
  }
  if (type == "linear") {
    scaling.type = RopeScalingType::linear;
  } else if (type == "llama3") {
    scaling.type = RopeScalingType::llama3;
    MIXSERVE_ASSIGN_OR_RETURN(scaling.low_freq_factor, fields.required_number("low_freq_factor"));
    MIXSERVE_ASSIGN_OR_RETURN(scaling.high_freq_factor, fields.required_number("high_freq_factor"));
    MIXSERVE_ASSIGN_OR_RETURN(scaling.original_max_position_embeddings,
                              fields.required_int("original_max_position_embeddings"));
    if (scaling.original_max_position_embeddings <= 0) {
      return fields.error("original_max_position_embeddings", "must be positive");
    }
    // The llama3 formula divides by (high - low); equal factors would make it undefined.
    if (!(scaling.high_freq_factor > scaling.low_freq_factor) || scaling.low_freq_factor <= 0) {
      return fields.error("high_freq_factor", "must be greater than low_freq_factor, both positive");
    }
  } else {
    return unsupported(source + ": " + key + " type \"" + type + "\" is not supported (default, linear, llama3 are)");
  }
  MIXSERVE_ASSIGN_OR_RETURN(scaling.factor, fields.required_number("factor"));
  if (!(scaling.factor > 0)) return fields.error("factor", "must be positive");
  return Status::ok_status();
}

// Sliding-window attention is not implemented: a window that can bind (smaller than the context) is refused.
Status check_sliding_window(const FieldReader& fields, const std::string& source, ModelConfig* config) {
  if (config->architecture == Architecture::llama) return Status::ok_status();
  if (config->architecture == Architecture::qwen2) {
    MIXSERVE_ASSIGN_OR_RETURN(bool use, fields.optional_bool("use_sliding_window", false));
    if (!use) return Status::ok_status();
  }
  MIXSERVE_ASSIGN_OR_RETURN(int64_t window, fields.optional_int("sliding_window", -1));
  if (window >= 0 && window < config->max_position_embeddings) {
    return unsupported(source + ": sliding_window " + std::to_string(window) + " < max_position_embeddings " +
                       std::to_string(config->max_position_embeddings) + ": sliding-window attention is not supported");
  }
  return Status::ok_status();
}

Status parse_sizes(const FieldReader& fields, ModelConfig* c) {
  MIXSERVE_ASSIGN_OR_RETURN(c->vocab_size, fields.required_int("vocab_size"));
  MIXSERVE_ASSIGN_OR_RETURN(c->hidden_size, fields.required_int("hidden_size"));
  MIXSERVE_ASSIGN_OR_RETURN(c->intermediate_size, fields.required_int("intermediate_size"));
  MIXSERVE_ASSIGN_OR_RETURN(c->num_hidden_layers, fields.required_int("num_hidden_layers"));
  MIXSERVE_ASSIGN_OR_RETURN(c->num_attention_heads, fields.required_int("num_attention_heads"));
  MIXSERVE_ASSIGN_OR_RETURN(c->max_position_embeddings, fields.required_int("max_position_embeddings"));
  MIXSERVE_ASSIGN_OR_RETURN(c->num_key_value_heads, fields.optional_int("num_key_value_heads", c->num_attention_heads));
  const std::pair<const char*, int64_t> positive[] = {
      {"vocab_size", c->vocab_size},
      {"hidden_size", c->hidden_size},
      {"intermediate_size", c->intermediate_size},
      {"num_hidden_layers", c->num_hidden_layers},
      {"num_attention_heads", c->num_attention_heads},
      {"max_position_embeddings", c->max_position_embeddings},
      {"num_key_value_heads", c->num_key_value_heads},
  };
  for (const auto& [name, value] : positive) {
    if (value <= 0) return fields.error(name, "must be positive, got " + std::to_string(value));
  }
  if (c->num_attention_heads % c->num_key_value_heads != 0) {
    return fields.error("num_key_value_heads", "(" + std::to_string(c->num_key_value_heads) +
                                                   ") must divide num_attention_heads (" +
                                                   std::to_string(c->num_attention_heads) + ")");
  }
  if (fields.has("head_dim")) {
    MIXSERVE_ASSIGN_OR_RETURN(c->head_dim, fields.required_int("head_dim"));
    if (c->head_dim <= 0) return fields.error("head_dim", "must be positive, got " + std::to_string(c->head_dim));
  } else {
    if (c->hidden_size % c->num_attention_heads != 0) {
      return fields.error("num_attention_heads", "must divide hidden_size when head_dim is not given");
    }
    c->head_dim = c->hidden_size / c->num_attention_heads;
  }
  return Status::ok_status();
}

Status parse_numerics(const FieldReader& fields, ModelConfig* c) {
  MIXSERVE_ASSIGN_OR_RETURN(c->rms_norm_eps, fields.optional_number("rms_norm_eps", c->rms_norm_eps));
  if (!(c->rms_norm_eps > 0)) return fields.error("rms_norm_eps", "must be positive");
  MIXSERVE_ASSIGN_OR_RETURN(c->rope_theta, fields.optional_number("rope_theta", c->rope_theta));
  MIXSERVE_ASSIGN_OR_RETURN(c->tie_word_embeddings, fields.optional_bool("tie_word_embeddings", false));
  // HF's Qwen2 always has q/k/v biases and Mistral never has any, whatever the config says.
  MIXSERVE_ASSIGN_OR_RETURN(bool attention_bias, fields.optional_bool("attention_bias", false));
  c->attention_bias = c->architecture == Architecture::qwen2 ||
                      (c->architecture == Architecture::llama && attention_bias);
  MIXSERVE_ASSIGN_OR_RETURN(c->mlp_bias, fields.optional_bool("mlp_bias", false));
  if (c->mlp_bias) return unsupported(fields.error("mlp_bias", "is true: MLP biases are not supported").message());
  MIXSERVE_ASSIGN_OR_RETURN(std::string act, fields.optional_string("hidden_act", "silu"));
  if (act != "silu") return unsupported(fields.error("hidden_act", "\"" + act + "\" is not supported (silu is)").message());
  // HF 5.x writes "dtype", 4.x "torch_dtype".
  MIXSERVE_ASSIGN_OR_RETURN(c->torch_dtype, fields.optional_string("dtype", ""));
  MIXSERVE_ASSIGN_OR_RETURN(c->torch_dtype, fields.optional_string("torch_dtype", c->torch_dtype));
  MIXSERVE_ASSIGN_OR_RETURN(c->eos_token_ids, fields.int_or_int_list("eos_token_id"));
  MIXSERVE_ASSIGN_OR_RETURN(c->bos_token_id, fields.optional_int("bos_token_id", -1));
  return Status::ok_status();
}

Result<json> parse_json_object(const std::string& text, const std::string& source) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    return invalid_argument(source + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) return invalid_argument(source + ": not a JSON object");
  return root;
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(path + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The non-throwing form: an unreadable directory reads as "absent".
bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

}  // namespace

const char* architecture_name(Architecture arch) { return architecture_info(arch).class_name; }

Result<ModelConfig> parse_model_config(const std::string& json_text, const std::string& source) {
  MIXSERVE_ASSIGN_OR_RETURN(json root, parse_json_object(json_text, source));
  const FieldReader fields(root, source);
  ModelConfig config;
  MIXSERVE_ASSIGN_OR_RETURN(config.architecture, parse_architecture(root, fields, source));
  const char* expected_type = architecture_info(config.architecture).model_type;
  MIXSERVE_ASSIGN_OR_RETURN(config.model_type, fields.optional_string("model_type", expected_type));
  if (config.model_type != expected_type) {
    return fields.error("model_type", "\"" + config.model_type + "\" does not match architecture " +
                                          architecture_name(config.architecture));
  }
  MIXSERVE_RETURN_IF_ERROR(parse_sizes(fields, &config));
  MIXSERVE_RETURN_IF_ERROR(parse_numerics(fields, &config));
  MIXSERVE_RETURN_IF_ERROR(parse_rope(root, source, &config));
  if (!(config.rope_theta > 0)) return fields.error("rope_theta", "must be positive");
  MIXSERVE_RETURN_IF_ERROR(check_sliding_window(fields, source, &config));
  if (auto it = root.find("quantization_config"); it != root.end()) {
    MIXSERVE_ASSIGN_OR_RETURN(config.quantization, parse_quantization_config(it->dump(), source));
  }
  return config;
}

Result<ModelConfig> load_model_config(const std::string& model_dir) {
  const std::string config_path = model_dir + "/config.json";
  if (!file_exists(config_path)) return not_found(config_path + ": no such file");
  MIXSERVE_ASSIGN_OR_RETURN(std::string text, read_text(config_path));
  MIXSERVE_ASSIGN_OR_RETURN(ModelConfig config, parse_model_config(text, config_path));

  // generation_config.json often lists more end tokens than config.json (Llama 3 instruct's <|eot_id|>).
  const std::string generation_path = model_dir + "/generation_config.json";
  if (file_exists(generation_path)) {
    MIXSERVE_ASSIGN_OR_RETURN(std::string generation_text, read_text(generation_path));
    MIXSERVE_ASSIGN_OR_RETURN(json generation, parse_json_object(generation_text, generation_path));
    MIXSERVE_ASSIGN_OR_RETURN(std::vector<int64_t> eos,
                              FieldReader(generation, generation_path).int_or_int_list("eos_token_id"));
    for (int64_t id : eos) {
      if (std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), id) == config.eos_token_ids.end()) {
        config.eos_token_ids.push_back(id);
      }
    }
  }
  return config;
}

std::string model_config_to_json(const ModelConfig& c) {
  nlohmann::ordered_json out;
  out["architectures"] = {architecture_name(c.architecture)};
  out["model_type"] = c.model_type.empty() ? architecture_info(c.architecture).model_type : c.model_type;
  out["vocab_size"] = c.vocab_size;
  out["hidden_size"] = c.hidden_size;
  out["intermediate_size"] = c.intermediate_size;
  out["num_hidden_layers"] = c.num_hidden_layers;
  out["num_attention_heads"] = c.num_attention_heads;
  out["num_key_value_heads"] = c.num_key_value_heads;
  out["head_dim"] = c.head_dim;
  out["max_position_embeddings"] = c.max_position_embeddings;
  out["rms_norm_eps"] = c.rms_norm_eps;
  out["rope_theta"] = c.rope_theta;
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type == RopeScalingType::linear) {
    out["rope_scaling"] = {{"rope_type", "linear"}, {"factor", rs.factor}};
  } else if (rs.type == RopeScalingType::llama3) {
    out["rope_scaling"] = {{"rope_type", "llama3"},
                           {"factor", rs.factor},
                           {"low_freq_factor", rs.low_freq_factor},
                           {"high_freq_factor", rs.high_freq_factor},
                           {"original_max_position_embeddings", rs.original_max_position_embeddings}};
  } else {
    out["rope_scaling"] = nullptr;
  }
  out["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.architecture == Architecture::llama) {
    out["attention_bias"] = c.attention_bias;
    out["mlp_bias"] = false;
  }
  // HF's Mistral defaults to a 4096-token window and Qwen2 can enable one: state explicitly that there is none.
  if (c.architecture == Architecture::mistral) out["sliding_window"] = nullptr;
  if (c.architecture == Architecture::qwen2) {
    out["use_sliding_window"] = false;
    out["sliding_window"] = nullptr;
    out["max_window_layers"] = c.num_hidden_layers;
  }
  out["hidden_act"] = "silu";
  out["attention_dropout"] = 0.0;
  out["initializer_range"] = 0.02;
  out["use_cache"] = true;
  out["torch_dtype"] = c.torch_dtype.empty() ? "bfloat16" : c.torch_dtype;
  if (c.bos_token_id >= 0) {
    out["bos_token_id"] = c.bos_token_id;
  } else {
    out["bos_token_id"] = nullptr;
  }
  if (c.eos_token_ids.size() == 1) {
    out["eos_token_id"] = c.eos_token_ids[0];
  } else if (c.eos_token_ids.empty()) {
    out["eos_token_id"] = nullptr;
  } else {
    out["eos_token_id"] = c.eos_token_ids;
  }
  return out.dump(2) + "\n";
}

}  // namespace mixserve
