#include "core/quantization_config.h"

#include <cctype>

#include <nlohmann/json.hpp>

namespace mixserve {
namespace {

using nlohmann::json;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class QuantFields {
 public:
  QuantFields(const json& object, std::string source) : object_(object), source_(std::move(source)) {}
  bool has(const char* name) const { return object_.contains(name) && !object_.at(name).is_null(); }
  Result<int64_t> integer(const char* name, int64_t fallback) const {
    if (!has(name)) return fallback;
    if (!object_.at(name).is_number_integer()) return error(name, "must be an integer");
    return object_.at(name).get<int64_t>();
  }
  Result<bool> boolean(const char* name, bool fallback) const {
    if (!has(name)) return fallback;
    if (!object_.at(name).is_boolean()) return error(name, "must be true or false");
    return object_.at(name).get<bool>();
  }
  Result<std::string> text(const char* name, const std::string& fallback) const {
    if (!has(name)) return fallback;
    if (!object_.at(name).is_string()) return error(name, "must be a string");
    return lower(object_.at(name).get<std::string>());
  }
  Status error(const char* name, const std::string& what) const {
    return invalid_argument(source_ + ": quantization_config." + name + " " + what);
  }
  Status unsupported_because(const std::string& what) const {
    return unsupported(source_ + ": quantization_config: " + what);
  }

 private:
  const json& object_;
  std::string source_;
};

Status read_int4_method(const QuantFields& f, QuantMethod method, QuantizationConfig& q) {
  const char* name = quant_method_name(method);
  MIXSERVE_ASSIGN_OR_RETURN(int64_t bits, f.integer(method == QuantMethod::awq && f.has("w_bit") ? "w_bit" : "bits", 4));
  MIXSERVE_ASSIGN_OR_RETURN(int64_t group,
                            f.integer(method == QuantMethod::awq && f.has("q_group_size") ? "q_group_size" : "group_size", 128));
  if (bits != 4) return f.unsupported_because(std::string(name) + " with " + std::to_string(bits) + " bits (int4 only)");
  if (group != 32 && group != 64 && group != 128) {
    return f.unsupported_because(std::string(name) + " group_size " + std::to_string(group) +
                                 " (32, 64 or 128; -1 = per channel is not built)");
  }
  if (method == QuantMethod::awq) {
    MIXSERVE_ASSIGN_OR_RETURN(std::string version, f.text("version", "gemm"));
    MIXSERVE_ASSIGN_OR_RETURN(bool zero_point, f.boolean("zero_point", true));
    if (version != "gemm") return f.unsupported_because("awq version \"" + version + "\" (the GEMM packing only)");
    if (!zero_point) return f.unsupported_because("awq without zero points");
  } else {
    MIXSERVE_ASSIGN_OR_RETURN(bool desc_act, f.boolean("desc_act", false));
    MIXSERVE_ASSIGN_OR_RETURN(std::string format, f.text("checkpoint_format", "gptq"));
    if (desc_act) return f.unsupported_because("GPTQ act-order (desc_act = true); re-quantize without desc_act");
    if (format != "gptq") return f.unsupported_because("GPTQ checkpoint_format \"" + format + "\" (v1 \"gptq\" only)");
  }
  q.bits = 4;
  q.group_size = static_cast<int>(group);
  return Status::ok_status();
}

}  // namespace

const char* quant_method_name(QuantMethod method) {
  switch (method) {
    case QuantMethod::none: return "none";
    case QuantMethod::awq: return "awq";
    case QuantMethod::gptq: return "gptq";
    case QuantMethod::fp8: return "fp8";
  }
  return "unknown";
}

Result<QuantizationConfig> parse_quantization_config(const std::string& text, const std::string& source) {
  QuantizationConfig q;
  if (text.empty() || text == "null") return q;
  json object;
  try {
    object = json::parse(text);
  } catch (const json::parse_error& e) {
    return invalid_argument(source + ": quantization_config is not valid JSON: " + e.what());
  }
  if (!object.is_object()) return invalid_argument(source + ": quantization_config must be an object");
  const QuantFields f(object, source);
  if (!f.has("quant_method")) return f.error("quant_method", "is required but missing");
  MIXSERVE_ASSIGN_OR_RETURN(std::string method, f.text("quant_method", ""));
  if (method == "awq" || method == "gptq") {
    q.method = method == "awq" ? QuantMethod::awq : QuantMethod::gptq;
    MIXSERVE_RETURN_IF_ERROR(read_int4_method(f, q.method, q));
    return q;
  }
  if (method == "fp8") {
    if (f.has("weight_block_size")) return f.unsupported_because("block-wise fp8 (weight_block_size)");
    MIXSERVE_ASSIGN_OR_RETURN(std::string scheme, f.text("activation_scheme", "dynamic"));
    if (scheme != "dynamic" && scheme != "static") return f.error("activation_scheme", "must be dynamic or static");
    q.method = QuantMethod::fp8;
    q.bits = 8;
    q.static_activation_scale = scheme == "static";
    return q;
  }
  return f.unsupported_because("quant_method \"" + method + "\" (this build reads awq, gptq and fp8)");
}

}  // namespace mixserve
