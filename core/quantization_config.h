#pragma once
// The `quantization_config` of a HF config.json, checked against what the loader can read as it is, so a
// checkpoint we cannot run fails at load with the reason, before any tensor is read:
//   awq:  bits 4, GEMM packing (`version` "gemm"), zero points, group 32/64/128 (kernels/formats/awq_gptq.h).
//   gptq: bits 4, group 32/64/128, no act-order (`desc_act` false), checkpoint_format "gptq" (v1).
//   fp8:  e4m3 weights with per-tensor or per-channel `weight_scale` (AutoFP8 / vLLM "fp8"); block-wise
//         (`weight_block_size`) is refused. A "static" activation_scheme is read, but activations are still
//         quantized per token at run time (our W8A8 definition), so results differ slightly from vLLM's static.
// Anything else (compressed-tensors, bitsandbytes, exl2, hqq, ...) is `unsupported`, naming the method.
#include <cstdint>
#include <string>

#include "core/status.h"


namespace mixserve {

enum class QuantMethod { none, awq, gptq, fp8 };
const char* quant_method_name(QuantMethod method);

struct QuantizationConfig {
  QuantMethod method = QuantMethod::none;
  int bits = 0;          // awq, gptq: 4; fp8: 8
  int group_size = 0;    // awq, gptq
  bool static_activation_scale = false;  // fp8 "static": recorded, not used (see above)
  bool operator==(const QuantizationConfig&) const = default;
};

// `quantization_config_json`: the object's JSON text ("" or "null" when config.json has none).
Result<QuantizationConfig> parse_quantization_config(const std::string& quantization_config_json,
                                                     const std::string& source);

}  // namespace mixserve
