#pragma once
// Reads the pre-quantized linear weights `mixserve quantize` writes (tools/cli/quantize_command.cpp), so such a
// checkpoint loads without re-quantizing: for weight BASE.weight the file holds BASE.qweight (int4/int8: u8,
// packed WeightLayout::mma_v1; fp8: F8_E4M3 [n][k] row-major), BASE.scales (f32 [n][n_groups] or [n]),
// BASE.qzeros (f32, int4 only), the metadata entry "BASE.shape" = "n,k" and, per file, mixserve_weight_format
// (int4|int8|fp8), mixserve_layout (mma_v1; fp8: row_major), mixserve_group_size. AWQ (AutoAWQ GEMM) and GPTQ (AutoGPTQ v1, without act-order) int4 checkpoints load
// the same way through kernels/formats/awq_gptq.h, told apart by qweight's I32 shape. HF fp8 checkpoints
// (AutoFP8 / vLLM "fp8": BASE.weight F8_E4M3 with a per-tensor or per-channel BASE.weight_scale) load as fp8
// W8A8; their static input_scale, if any, is not used (activations are quantized per token). Every mismatch (sizes,
// shapes, unknown format or layout) is an error naming the file and tensor; nothing is trusted before it is
// checked.
#include <string>

#include "core/safetensors.h"
#include "kernels/formats/weight_format.h"

namespace mixserve {

// BASE without ".weight", e.g. "model.layers.0.self_attn.q_proj".
bool has_quantized_weight(const Checkpoint& checkpoint, const std::string& base);

// The weight in row-major layout (an exact reordering of the packed bytes), after checking it is [n][k].
Result<QuantizedWeight> read_quantized_weight(const Checkpoint& checkpoint, const std::string& base, int64_t n,
                                              int64_t k);

}  // namespace mixserve
