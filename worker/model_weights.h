#pragma once
// Loads one tensor-parallel rank's weights of a Llama-family HF checkpoint into a backend.
// Fused per layer: qkv = [q; k; v] rows of this rank (with the q/k/v biases when the model has them) and
// gate_up = [gate; up] rows. Linear layers take the requested WeightFormat (RTN-quantized here for
// int8/int4/fp8); a checkpoint written by `mixserve quantize` loads its int4/int8 weights as they are, sharded
// and fused exactly (worker/quantized_checkpoint.h). The embedding and LM head stay in the checkpoint's dtype.
// Every error names the file and tensor.
#include <memory>
#include <optional>
#include <vector>

#include "core/model_config.h"
#include "core/safetensors.h"
#include "kernels/formats/weight_format.h"
#include "worker/backend.h"
#include "worker/tp_plan.h"

namespace mixserve {

struct WeightOptions {
  std::optional<WeightFormat> linear_format;  // empty: the checkpoint's own dtype
  int group_size = 128;                       // int4
};

struct LayerWeights {
  std::unique_ptr<LinearWeight> qkv;      // [q_rows + 2 kv_rows, hidden]
  std::unique_ptr<LinearWeight> o;        // [hidden, q_rows]
  std::unique_ptr<LinearWeight> gate_up;  // [2 n_inter, hidden]
  std::unique_ptr<LinearWeight> down;     // [hidden, n_inter]
  DeviceBuffer input_norm;                // [hidden]
  DeviceBuffer post_attention_norm;       // [hidden]
};

struct ModelWeights {
  std::shared_ptr<LinearWeight> embed;    // [vocab, hidden]
  std::shared_ptr<LinearWeight> lm_head;  // [vocab, hidden]; the same object as embed when tied
  DeviceBuffer final_norm;                // [hidden]
  std::vector<LayerWeights> layers;
  size_t bytes = 0;                       // as held by the backend
};

Result<ModelWeights> load_model_weights(const Checkpoint& checkpoint, const ModelConfig& config, const TpPlan& plan,
                                        const WeightOptions& options, Backend& backend);

// The tensor as f32 after checking its shape; F32, F16 and BF16 are accepted.
Result<std::vector<float>> read_tensor_f32(const Checkpoint& checkpoint, const std::string& name,
                                           const std::vector<int64_t>& shape);

}  // namespace mixserve
