#include "worker/model_weights.h"

#include <cstring>
#include <string>

#include "core/float_convert.h"
#include "kernels/formats/quantized_rows.h"
#include "worker/quantized_checkpoint.h"

namespace mixserve {
namespace {

WeightFormat dense_format_of(DType dtype) {
  switch (dtype) {
    case DType::f16: return WeightFormat::f16;
    case DType::bf16: return WeightFormat::bf16;
    default: return WeightFormat::f32;
  }
}

QuantizedWeight to_format(const std::vector<float>& w, int64_t n, int64_t k, WeightFormat format, int group_size) {
  switch (format) {
    case WeightFormat::int8: return quantize_int8(w.data(), n, k);
    case WeightFormat::int4: return quantize_int4(w.data(), n, k, group_size);
    case WeightFormat::fp8_e4m3: return quantize_fp8(w.data(), n, k);
    default: return make_dense_weight(w.data(), n, k, format);
  }
}

// Loads the layers' linear weights and norms; names follow HF's LlamaForCausalLM / Qwen2ForCausalLM.
class LayerLoader {
 public:
  LayerLoader(const Checkpoint& ckpt, const ModelConfig& config, const TpPlan& plan, const WeightOptions& options,
              Backend& backend)
      : ckpt_(ckpt), config_(config), plan_(plan), options_(options), backend_(backend) {}

  Result<LayerWeights> load(int64_t layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const int64_t hidden = config_.hidden_size;
    const int64_t d = config_.head_dim;
    LayerWeights lw;
    std::vector<float> qkv_bias;
    if (config_.attention_bias) {
      MIXSERVE_ASSIGN_OR_RETURN(auto qb, read_tensor_f32(ckpt_, p + "self_attn.q_proj.bias", {config_.q_size()}));
      MIXSERVE_ASSIGN_OR_RETURN(auto kb, read_tensor_f32(ckpt_, p + "self_attn.k_proj.bias", {config_.kv_size()}));
      MIXSERVE_ASSIGN_OR_RETURN(auto vb, read_tensor_f32(ckpt_, p + "self_attn.v_proj.bias", {config_.kv_size()}));
      const auto qb_s = slice_rows(qb, 1, plan_.q_head_begin * d, plan_.q_rows());
      const auto kb_s = slice_rows(kb, 1, plan_.kv_head_begin * d, plan_.kv_rows());
      const auto vb_s = slice_rows(vb, 1, plan_.kv_head_begin * d, plan_.kv_rows());
      qkv_bias = concat_rows({&qb_s, &kb_s, &vb_s});
    }
    if (has_quantized_weight(ckpt_, p + "self_attn.q_proj")) {
      MIXSERVE_RETURN_IF_ERROR(load_prequantized_linears(p, std::move(qkv_bias), lw));
    } else if (config_.quantization.method != QuantMethod::none) {
      return invalid_argument(ckpt_.dir() + ": config.json declares " +
                              quant_method_name(config_.quantization.method) + " quantization, but " + p +
                              "self_attn.q_proj holds float weights (mismatched config and checkpoint)");
    } else {
      MIXSERVE_RETURN_IF_ERROR(load_float_linears(p, std::move(qkv_bias), lw));
    }

    MIXSERVE_ASSIGN_OR_RETURN(auto n1, read_tensor_f32(ckpt_, p + "input_layernorm.weight", {hidden}));
    MIXSERVE_ASSIGN_OR_RETURN(auto n2, read_tensor_f32(ckpt_, p + "post_attention_layernorm.weight", {hidden}));
    lw.input_norm = backend_.upload(n1);
    lw.post_attention_norm = backend_.upload(n2);
    bytes_ += 2 * hidden * sizeof(float);
    return lw;
  }

  size_t bytes() const { return bytes_; }

 private:
  // Float checkpoint weights, sharded and fused as floats, then converted to the requested format.
  Status load_float_linears(const std::string& p, std::vector<float> qkv_bias, LayerWeights& lw) {
    const int64_t hidden = config_.hidden_size;
    const int64_t d = config_.head_dim;
    MIXSERVE_ASSIGN_OR_RETURN(DType dtype, dtype_of(p + "self_attn.q_proj.weight"));
    const WeightFormat format = options_.linear_format.value_or(dense_format_of(dtype));

    // Attention: this rank's q heads and kv heads, fused into one [q; k; v] matrix.
    MIXSERVE_ASSIGN_OR_RETURN(auto q, read_tensor_f32(ckpt_, p + "self_attn.q_proj.weight", {config_.q_size(), hidden}));
    MIXSERVE_ASSIGN_OR_RETURN(auto k, read_tensor_f32(ckpt_, p + "self_attn.k_proj.weight", {config_.kv_size(), hidden}));
    MIXSERVE_ASSIGN_OR_RETURN(auto v, read_tensor_f32(ckpt_, p + "self_attn.v_proj.weight", {config_.kv_size(), hidden}));
    const auto q_s = slice_rows(q, hidden, plan_.q_head_begin * d, plan_.q_rows());
    const auto k_s = slice_rows(k, hidden, plan_.kv_head_begin * d, plan_.kv_rows());
    const auto v_s = slice_rows(v, hidden, plan_.kv_head_begin * d, plan_.kv_rows());
    lw.qkv = linear(concat_rows({&q_s, &k_s, &v_s}), plan_.qkv_rows(), hidden, format, std::move(qkv_bias));

    MIXSERVE_ASSIGN_OR_RETURN(auto o, read_tensor_f32(ckpt_, p + "self_attn.o_proj.weight", {hidden, config_.q_size()}));
    lw.o = linear(slice_cols(o, config_.q_size(), plan_.q_head_begin * d, plan_.q_rows()), hidden, plan_.q_rows(),
                  format, {});

    // MLP: this rank's intermediate channels of gate and up fused, and the matching input columns of down.
    const int64_t inter = config_.intermediate_size;
    MIXSERVE_ASSIGN_OR_RETURN(auto gate, read_tensor_f32(ckpt_, p + "mlp.gate_proj.weight", {inter, hidden}));
    MIXSERVE_ASSIGN_OR_RETURN(auto up, read_tensor_f32(ckpt_, p + "mlp.up_proj.weight", {inter, hidden}));
    const auto gate_s = slice_rows(gate, hidden, plan_.inter_begin, plan_.n_inter);
    const auto up_s = slice_rows(up, hidden, plan_.inter_begin, plan_.n_inter);
    lw.gate_up = linear(concat_rows({&gate_s, &up_s}), 2 * plan_.n_inter, hidden, format, {});
    MIXSERVE_ASSIGN_OR_RETURN(auto down, read_tensor_f32(ckpt_, p + "mlp.down_proj.weight", {hidden, inter}));
    lw.down = linear(slice_cols(down, inter, plan_.inter_begin, plan_.n_inter), hidden, plan_.n_inter, format, {});
    return Status::ok_status();
  }

  // Pre-quantized weights (`mixserve quantize` output): sharded and fused as quantized rows and columns, exactly;
  // they keep the format they were quantized to.
  Status load_prequantized_linears(const std::string& p, std::vector<float> qkv_bias, LayerWeights& lw) {
    const int64_t hidden = config_.hidden_size, d = config_.head_dim, inter = config_.intermediate_size;
    MIXSERVE_ASSIGN_OR_RETURN(auto q, read_quantized_weight(ckpt_, p + "self_attn.q_proj", config_.q_size(), hidden));
    MIXSERVE_RETURN_IF_ERROR(check_declared_quantization(q, p + "self_attn.q_proj"));
    if (options_.linear_format && *options_.linear_format != q.format)
      return invalid_argument(ckpt_.dir() + " holds " + weight_format_name(q.format) + "-quantized weights; " +
                              "converting them to " + weight_format_name(*options_.linear_format) +
                              " would need the original weights (load those, or leave the weight format unset)");
    MIXSERVE_ASSIGN_OR_RETURN(auto k, read_quantized_weight(ckpt_, p + "self_attn.k_proj", config_.kv_size(), hidden));
    MIXSERVE_ASSIGN_OR_RETURN(auto v, read_quantized_weight(ckpt_, p + "self_attn.v_proj", config_.kv_size(), hidden));
    MIXSERVE_ASSIGN_OR_RETURN(auto q_s, quantized_rows(q, plan_.q_head_begin * d, plan_.q_rows()));
    MIXSERVE_ASSIGN_OR_RETURN(auto k_s, quantized_rows(k, plan_.kv_head_begin * d, plan_.kv_rows()));
    MIXSERVE_ASSIGN_OR_RETURN(auto v_s, quantized_rows(v, plan_.kv_head_begin * d, plan_.kv_rows()));
    MIXSERVE_ASSIGN_OR_RETURN(auto qkv, concat_quantized_rows({&q_s, &k_s, &v_s}));
    lw.qkv = add_linear(std::move(qkv), std::move(qkv_bias));

    MIXSERVE_ASSIGN_OR_RETURN(auto o, read_quantized_weight(ckpt_, p + "self_attn.o_proj", hidden, config_.q_size()));
    MIXSERVE_ASSIGN_OR_RETURN(auto o_s, quantized_cols(o, plan_.q_head_begin * d, plan_.q_rows()));
    lw.o = add_linear(std::move(o_s), {});

    MIXSERVE_ASSIGN_OR_RETURN(auto gate, read_quantized_weight(ckpt_, p + "mlp.gate_proj", inter, hidden));
    MIXSERVE_ASSIGN_OR_RETURN(auto up, read_quantized_weight(ckpt_, p + "mlp.up_proj", inter, hidden));
    MIXSERVE_ASSIGN_OR_RETURN(auto gate_s, quantized_rows(gate, plan_.inter_begin, plan_.n_inter));
    MIXSERVE_ASSIGN_OR_RETURN(auto up_s, quantized_rows(up, plan_.inter_begin, plan_.n_inter));
    MIXSERVE_ASSIGN_OR_RETURN(auto gate_up, concat_quantized_rows({&gate_s, &up_s}));
    lw.gate_up = add_linear(std::move(gate_up), {});
    MIXSERVE_ASSIGN_OR_RETURN(auto down, read_quantized_weight(ckpt_, p + "mlp.down_proj", hidden, inter));
    MIXSERVE_ASSIGN_OR_RETURN(auto down_s, quantized_cols(down, plan_.inter_begin, plan_.n_inter));
    lw.down = add_linear(std::move(down_s), {});
    return Status::ok_status();
  }

  // config.json's quantization_config (when present) must describe the tensors that are there.
  Status check_declared_quantization(const QuantizedWeight& w, const std::string& name) const {
    const QuantizationConfig& declared = config_.quantization;
    if (declared.method == QuantMethod::none) return Status::ok_status();
    const bool int4 = declared.method == QuantMethod::awq || declared.method == QuantMethod::gptq;
    const bool same = int4 ? w.format == WeightFormat::int4 && w.group_size == declared.group_size
                           : w.format == WeightFormat::fp8_e4m3;
    if (same) return Status::ok_status();
    return invalid_argument(ckpt_.dir() + ": config.json declares " + quant_method_name(declared.method) +
                            (int4 ? " int4 with group " + std::to_string(declared.group_size) : std::string()) +
                            ", but " + name + " holds " + weight_format_name(w.format) +
                            (w.group_size ? " with group " + std::to_string(w.group_size) : std::string()) +
                            " (mismatched config and checkpoint)");
  }

  std::unique_ptr<LinearWeight> add_linear(QuantizedWeight w, std::vector<float> bias) {
    auto lw = backend_.load_linear(std::move(w), std::move(bias));
    bytes_ += lw->bytes();
    return lw;
  }

  Result<DType> dtype_of(const std::string& name) {
    MIXSERVE_ASSIGN_OR_RETURN(TensorRef ref, ckpt_.tensor(name));
    return ref.info->dtype;
  }

  std::unique_ptr<LinearWeight> linear(const std::vector<float>& w, int64_t n, int64_t k, WeightFormat format,
                                       std::vector<float> bias) {
    return add_linear(to_format(w, n, k, format, options_.group_size), std::move(bias));
  }

  const Checkpoint& ckpt_;
  const ModelConfig& config_;
  const TpPlan& plan_;
  const WeightOptions& options_;
  Backend& backend_;
  size_t bytes_ = 0;
};

// The embedding table (and the LM head) keep the checkpoint's dtype: no rounding on load.
Result<std::shared_ptr<LinearWeight>> load_dense(const Checkpoint& ckpt, const std::string& name,
                                                 const ModelConfig& config, Backend& backend) {
  MIXSERVE_ASSIGN_OR_RETURN(auto values, read_tensor_f32(ckpt, name, {config.vocab_size, config.hidden_size}));
  MIXSERVE_ASSIGN_OR_RETURN(TensorRef ref, ckpt.tensor(name));
  return std::shared_ptr<LinearWeight>(backend.load_linear(
      make_dense_weight(values.data(), config.vocab_size, config.hidden_size, dense_format_of(ref.info->dtype)), {}));
}

}  // namespace

Result<std::vector<float>> read_tensor_f32(const Checkpoint& checkpoint, const std::string& name,
                                           const std::vector<int64_t>& shape) {
  MIXSERVE_ASSIGN_OR_RETURN(TensorRef ref, checkpoint.tensor_with_shape(name, shape));
  const size_t n = static_cast<size_t>(ref.info->numel());
  std::vector<float> out(n);
  const uint8_t* src = ref.bytes.data();
  switch (ref.info->dtype) {
    case DType::f32:
      std::memcpy(out.data(), src, n * sizeof(float));
      break;
    case DType::f16:
    case DType::bf16: {
      const bool is_bf16 = ref.info->dtype == DType::bf16;
      for (size_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        out[i] = is_bf16 ? bf16_bits_to_fp32(bits) : fp16_bits_to_fp32(bits);
      }
      break;
    }
    default:
      return unsupported(*ref.file + ": tensor " + name + " has dtype " + dtype_name(ref.info->dtype) +
                         "; expected F32, F16 or BF16");
  }
  return out;
}

Result<ModelWeights> load_model_weights(const Checkpoint& checkpoint, const ModelConfig& config, const TpPlan& plan,
                                        const WeightOptions& options, Backend& backend) {
  ModelWeights weights;
  MIXSERVE_ASSIGN_OR_RETURN(weights.embed, load_dense(checkpoint, "model.embed_tokens.weight", config, backend));
  if (config.tie_word_embeddings) {
    weights.lm_head = weights.embed;
  } else {
    MIXSERVE_ASSIGN_OR_RETURN(weights.lm_head, load_dense(checkpoint, "lm_head.weight", config, backend));
  }
  MIXSERVE_ASSIGN_OR_RETURN(auto final_norm, read_tensor_f32(checkpoint, "model.norm.weight", {config.hidden_size}));
  weights.final_norm = backend.upload(final_norm);
  LayerLoader loader(checkpoint, config, plan, options, backend);
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    MIXSERVE_ASSIGN_OR_RETURN(auto layer, loader.load(l));
    weights.layers.push_back(std::move(layer));
  }
  weights.bytes = loader.bytes() + weights.embed->bytes() +
                  (config.tie_word_embeddings ? 0 : weights.lm_head->bytes()) + final_norm.size() * sizeof(float);
  return weights;
}

}  // namespace mixserve
