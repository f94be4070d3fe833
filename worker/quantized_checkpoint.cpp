#include "worker/quantized_checkpoint.h"

#include <cmath>

#include "kernels/formats/awq_gptq.h"
#include "kernels/formats/packed_weight.h"
#include "worker/model_weights.h"

namespace mixserve {
namespace {

Result<std::string> metadata_value(const TensorRef& ref, const std::string& key, const std::string& tensor) {
  if (ref.metadata) {
    const auto it = ref.metadata->find(key);
    if (it != ref.metadata->end()) return it->second;
  }
  return invalid_argument(*ref.file + ": quantized tensor \"" + tensor + "\" but no metadata \"" + key + "\"");
}

}  // namespace

bool has_quantized_weight(const Checkpoint& checkpoint, const std::string& base) {
  if (checkpoint.contains(base + ".qweight")) return true;
  auto w = checkpoint.tensor(base + ".weight");
  return w.ok() && w->info->dtype == DType::fp8_e4m3;
}

// AWQ (qweight I32 [k, n/8]) or GPTQ (I32 [k/8, n]): the shape tells them apart (k = k/8 is impossible).
Result<QuantizedWeight> read_awq_or_gptq(const Checkpoint& checkpoint, const TensorRef& q, const std::string& base,
                                         int64_t n, int64_t k) {
  const std::string where = *q.file + ": \"" + base + ".qweight\": ";
  const auto& shape = q.info->shape;
  Result<QuantizedWeight> w = invalid_argument(
      where + "an I32 qweight of shape " + shape_to_string(shape) + " is neither AWQ [" + std::to_string(k) + ", " +
      std::to_string(n / 8) + "] nor GPTQ [" + std::to_string(k / 8) + ", " + std::to_string(n) + "]");
  if (shape == std::vector<int64_t>{k, n / 8}) w = load_awq_int4(lookup_in(checkpoint), base);
  if (shape == std::vector<int64_t>{k / 8, n}) w = load_gptq_int4(lookup_in(checkpoint), base);
  if (!w.ok()) return w.status();
  if (w->n != n || w->k != k)
    return invalid_argument(where + "holds a " + std::to_string(w->n) + "x" + std::to_string(w->k) +
                            " weight; the model config needs " + std::to_string(n) + "x" + std::to_string(k));
  return w;
}

namespace {

Status check_fp8_codes(const std::vector<uint8_t>& codes, const std::string& where) {
  for (size_t i = 0; i < codes.size(); ++i) {
    if ((codes[i] & 0x7F) == 0x7F) return invalid_argument(where + "NaN code at element " + std::to_string(i) + " (corrupt weight)");
  }
  return Status::ok_status();
}

Status check_fp8_scales(const std::vector<float>& scales, const std::string& where) {
  for (size_t r = 0; r < scales.size(); ++r) {
    if (!std::isfinite(scales[r]) || scales[r] < 0) {
      return invalid_argument(where + "scale of row " + std::to_string(r) + " is " + std::to_string(scales[r]) +
                              " (corrupt weight)");
    }
  }
  return Status::ok_status();
}

// A HF fp8 checkpoint (AutoFP8 / vLLM "fp8"): BASE.weight F8_E4M3 [n][k] and BASE.weight_scale F32 per tensor
// ([] or [1]) or per channel ([n] or [n, 1]); a per-tensor scale becomes the same scale on every row.
// Block-wise scales (BASE.weight_scale_inv) are refused.
Result<QuantizedWeight> read_hf_fp8_weight(const Checkpoint& checkpoint, const std::string& base, int64_t n,
                                           int64_t k) {
  MIXSERVE_ASSIGN_OR_RETURN(TensorRef w_ref, checkpoint.tensor_with_shape(base + ".weight", {n, k}));
  const std::string where = *w_ref.file + ": \"" + base + ".weight\": ";
  if (checkpoint.contains(base + ".weight_scale_inv"))
    return unsupported(where + "block-wise fp8 scales (weight_scale_inv) are not supported");
  MIXSERVE_ASSIGN_OR_RETURN(TensorRef s_ref, checkpoint.tensor(base + ".weight_scale"));
  const auto& shape = s_ref.info->shape;
  const bool per_tensor = shape.empty() || shape == std::vector<int64_t>{1};
  const bool per_channel = shape == std::vector<int64_t>{n} || shape == std::vector<int64_t>{n, 1};
  if (!per_tensor && !per_channel) {
    return unsupported(where + "weight_scale of shape " + shape_to_string(shape) + " (per tensor [] / [1] or per channel [" +
                       std::to_string(n) + "] / [" + std::to_string(n) + ", 1] only)");
  }
  QuantizedWeight w{.format = WeightFormat::fp8_e4m3, .layout = WeightLayout::row_major, .n = n, .k = k};
  w.data.assign(w_ref.bytes.begin(), w_ref.bytes.end());
  MIXSERVE_RETURN_IF_ERROR(check_fp8_codes(w.data, where));
  MIXSERVE_ASSIGN_OR_RETURN(std::vector<float> s, read_tensor_f32(checkpoint, base + ".weight_scale", shape));
  w.scales = per_tensor ? std::vector<float>(static_cast<size_t>(n), s[0]) : std::move(s);
  MIXSERVE_RETURN_IF_ERROR(check_fp8_scales(w.scales, where));
  return w;
}

// fp8 e4m3 codes F8_E4M3 [n][k] and f32 scales [n]. NaN codes (0x7F, 0xFF) and negative or non-finite scales
// cannot come from quantize_fp8 and would poison every output they touch: a corrupt file.
Result<QuantizedWeight> read_fp8_weight(const Checkpoint& checkpoint, const TensorRef& q, const std::string& base,
                                        const std::string& where, int64_t n, int64_t k) {
  if (q.info->dtype != DType::fp8_e4m3 || q.info->shape != std::vector<int64_t>{n, k}) {
    return invalid_argument(where + "expected F8_E4M3 [" + std::to_string(n) + ", " + std::to_string(k) + "], got " +
                            dtype_name(q.info->dtype) + " " + shape_to_string(q.info->shape));
  }
  QuantizedWeight w{.format = WeightFormat::fp8_e4m3, .layout = WeightLayout::row_major, .n = n, .k = k};
  w.data.assign(q.bytes.begin(), q.bytes.end());
  MIXSERVE_RETURN_IF_ERROR(check_fp8_codes(w.data, where));
  MIXSERVE_ASSIGN_OR_RETURN(w.scales, read_tensor_f32(checkpoint, base + ".scales", {n}));
  MIXSERVE_RETURN_IF_ERROR(check_fp8_scales(w.scales, where));
  return w;
}

}  // namespace

Result<QuantizedWeight> read_quantized_weight(const Checkpoint& checkpoint, const std::string& base, int64_t n,
                                              int64_t k) {
  const std::string qname = base + ".qweight";
  if (!checkpoint.contains(qname)) return read_hf_fp8_weight(checkpoint, base, n, k);
  MIXSERVE_ASSIGN_OR_RETURN(TensorRef q, checkpoint.tensor(qname));
  if (q.info->dtype == DType::i32) return read_awq_or_gptq(checkpoint, q, base, n, k);
  const std::string where = *q.file + ": \"" + qname + "\": ";
  MIXSERVE_ASSIGN_OR_RETURN(std::string format, metadata_value(q, "mixserve_weight_format", qname));
  MIXSERVE_ASSIGN_OR_RETURN(std::string layout, metadata_value(q, "mixserve_layout", qname));
  MIXSERVE_ASSIGN_OR_RETURN(std::string group_text, metadata_value(q, "mixserve_group_size", qname));
  MIXSERVE_ASSIGN_OR_RETURN(std::string shape, metadata_value(q, base + ".shape", qname));
  if (format != "int4" && format != "int8" && format != "fp8")
    return unsupported(where + "weight format \"" + format + "\" (expected int4, int8 or fp8)");
  const std::string expected_layout = format == "fp8" ? "row_major" : "mma_v1";
  if (layout != expected_layout) {
    return unsupported(where + "layout \"" + layout + "\" (this build reads " + format + " as " + expected_layout + ")");
  }
  if (shape != std::to_string(n) + "," + std::to_string(k))
    return invalid_argument(where + "shape " + shape + ", the model config needs " + std::to_string(n) + "," +
                            std::to_string(k));
  if (format == "fp8") return read_fp8_weight(checkpoint, q, base, where, n, k);
  QuantizedWeight w{.format = format == "int4" ? WeightFormat::int4 : WeightFormat::int8,
                    .layout = WeightLayout::mma_v1, .n = n, .k = k};
  if (w.format == WeightFormat::int4) {
    if (group_text != "32" && group_text != "64" && group_text != "128")
      return invalid_argument(where + "int4 group size \"" + group_text + "\" (expected 32, 64 or 128)");
    w.group_size = std::stoi(group_text);
  }
  const int64_t n_pad = packed_n(n), k_pad = packed_k(k, w.group_size);
  const int64_t bytes = w.format == WeightFormat::int4 ? n_pad * k_pad / 2 : n_pad * k_pad;
  if (q.info->dtype != DType::u8 || q.info->shape != std::vector<int64_t>{bytes})
    return invalid_argument(where + "expected U8 [" + std::to_string(bytes) + "] for a packed " + format + " " +
                            shape + " weight, got " + dtype_name(q.info->dtype) + " " +
                            shape_to_string(q.info->shape));
  w.data.assign(q.bytes.begin(), q.bytes.end());
  const std::vector<int64_t> param_shape =
      w.format == WeightFormat::int4 ? std::vector<int64_t>{n, w.n_groups()} : std::vector<int64_t>{n};
  MIXSERVE_ASSIGN_OR_RETURN(w.scales, read_tensor_f32(checkpoint, base + ".scales", param_shape));
  if (w.format == WeightFormat::int4) {
    MIXSERVE_ASSIGN_OR_RETURN(w.zeros, read_tensor_f32(checkpoint, base + ".qzeros", param_shape));
  }
  return unpack_to_row_major(w);
}

}  // namespace mixserve
