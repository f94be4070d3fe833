#pragma once
// Loading AWQ and GPTQ int4 checkpoints into QuantizedWeight (int4, row_major; pack_for_tensor_cores() then
// gives the GPU layout). Definitions (tools/reference/awq_gptq_pack.py writes test files from them):
//   AWQ (AutoAWQ GEMM): qweight int32 [K, N/8], nibble i of column c = q[k][8c + {0,2,4,6,1,3,5,7}[i]];
//        qzeros int32 [K/G, N/8] packed the same way; scales f16 [K/G, N].
//   GPTQ (AutoGPTQ v1): qweight int32 [K/8, N], nibble i of row r = q[8r + i][n]; qzeros int32 [K/G, N/8],
//        nibble i of column c = (z[g][8c + i] - 1) & 15; scales f16 [K/G, N]; g_idx int32 [K] (optional).
//   w[n][k] = (q - z) * s. GPTQ act-order (g_idx other than k / G) is rejected with a message: the kernels
//   assume groups of consecutive input channels, and permuting K is not built.
#include <functional>
#include <string>

#include "core/safetensors.h"
#include "kernels/formats/weight_format.h"

namespace mixserve {

// Finds a tensor by full name ("model.layers.0.self_attn.q_proj.qweight"); not_found when absent.
using TensorLookup = std::function<Result<TensorRef>(const std::string& name)>;
TensorLookup lookup_in(const Checkpoint& checkpoint);
TensorLookup lookup_in(const SafetensorsFile& file);

// `prefix` is the module name without the tensor suffix, e.g. "model.layers.0.mlp.down_proj".
Result<QuantizedWeight> load_awq_int4(const TensorLookup& lookup, const std::string& prefix);
Result<QuantizedWeight> load_gptq_int4(const TensorLookup& lookup, const std::string& prefix);

}  // namespace mixserve
