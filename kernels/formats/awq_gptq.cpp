#include "kernels/formats/awq_gptq.h"

#include <cstring>

#include "core/float_convert.h"

namespace mixserve {
namespace {

constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

struct Int4Parts {
  TensorRef qweight, qzeros, scales;
  int64_t n = 0, k = 0, n_groups = 0;
  int group_size = 0;
};

uint32_t word_at(const TensorRef& t, int64_t i) {
  uint32_t w;
  std::memcpy(&w, t.bytes.data() + 4 * i, 4);  // little-endian host, as in safetensors
  return w;
}

float f16_at(const TensorRef& t, int64_t i) {
  uint16_t b;
  std::memcpy(&b, t.bytes.data() + 2 * i, 2);
  return fp16_bits_to_fp32(b);
}

Status expect(const TensorRef& t, const std::string& name, DType dtype, const std::vector<int64_t>& shape) {
  if (t.info->dtype != dtype || t.info->shape != shape) {
    return invalid_argument(name + ": expected " + dtype_name(dtype) + " " + shape_to_string(shape) + ", found " +
                            dtype_name(t.info->dtype) + " " + shape_to_string(t.info->shape));
  }
  return {};
}

// Shapes shared by both formats: scales [K/G, N] gives N and the group count.
Result<Int4Parts> find_parts(const TensorLookup& lookup, const std::string& prefix, bool awq) {
  Int4Parts p;
  MIXSERVE_ASSIGN_OR_RETURN(p.qweight, lookup(prefix + ".qweight"));
  MIXSERVE_ASSIGN_OR_RETURN(p.qzeros, lookup(prefix + ".qzeros"));
  MIXSERVE_ASSIGN_OR_RETURN(p.scales, lookup(prefix + ".scales"));
  const auto& qs = p.qweight.info->shape;
  const auto& ss = p.scales.info->shape;
  if (qs.size() != 2 || ss.size() != 2) return invalid_argument(prefix + ": qweight and scales must be 2-D");
  p.n = ss[1];
  p.n_groups = ss[0];
  p.k = awq ? qs[0] : qs[0] * 8;
  if (p.n_groups <= 0 || p.k % p.n_groups != 0) {
    return invalid_argument(prefix + ": K = " + std::to_string(p.k) + " is not a multiple of the group count " +
                            std::to_string(p.n_groups));
  }
  p.group_size = static_cast<int>(p.k / p.n_groups);
  if (p.group_size != 32 && p.group_size != 64 && p.group_size != 128) {
    return invalid_argument(prefix + ": group size " + std::to_string(p.group_size) + " (expected 32, 64 or 128)");
  }
  if (p.n % 8 != 0) return invalid_argument(prefix + ": N = " + std::to_string(p.n) + " is not a multiple of 8");
  const std::vector<int64_t> q_shape = awq ? std::vector<int64_t>{p.k, p.n / 8} : std::vector<int64_t>{p.k / 8, p.n};
  MIXSERVE_RETURN_IF_ERROR(expect(p.qweight, prefix + ".qweight", DType::i32, q_shape));
  MIXSERVE_RETURN_IF_ERROR(expect(p.qzeros, prefix + ".qzeros", DType::i32, {p.n_groups, p.n / 8}));
  MIXSERVE_RETURN_IF_ERROR(expect(p.scales, prefix + ".scales", DType::f16, {p.n_groups, p.n}));
  return p;
}

// Fills a row_major int4 weight from q(n, k), z(n, g) and the f16 scales [g][n].
template <typename QAt, typename ZAt>
QuantizedWeight assemble(const Int4Parts& p, QAt q_at, ZAt z_at) {
  QuantizedWeight w{.format = WeightFormat::int4, .n = p.n, .k = p.k, .group_size = p.group_size};
  const int64_t row_bytes = p.k / 2;  // k is a multiple of the group size: no padding
  w.data.assign(static_cast<size_t>(p.n * row_bytes), 0);
  w.scales.resize(static_cast<size_t>(p.n * p.n_groups));
  w.zeros.resize(w.scales.size());
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t g = 0; g < p.n_groups; ++g) {
      w.scales[n * p.n_groups + g] = f16_at(p.scales, g * p.n + n);
      w.zeros[n * p.n_groups + g] = static_cast<float>(z_at(n, g));
    }
    for (int64_t k = 0; k < p.k; ++k) {
      const uint32_t q = q_at(n, k);
      w.data[n * row_bytes + k / 2] |= static_cast<uint8_t>((k & 1) ? q << 4 : q);
    }
  }
  return w;
}

}  // namespace

TensorLookup lookup_in(const Checkpoint& checkpoint) {
  return [&checkpoint](const std::string& name) { return checkpoint.tensor(name); };
}

TensorLookup lookup_in(const SafetensorsFile& file) {
  return [&file](const std::string& name) -> Result<TensorRef> {
    const TensorInfo* info = file.find(name);
    if (!info) return not_found("tensor " + name + " not in " + file.path());
    return TensorRef{.info = info, .bytes = file.bytes(*info), .file = &file.path()};
  };
}

Result<QuantizedWeight> load_awq_int4(const TensorLookup& lookup, const std::string& prefix) {
  MIXSERVE_ASSIGN_OR_RETURN(Int4Parts p, find_parts(lookup, prefix, /*awq=*/true));
  // Column c, nibble i holds channel 8c + kAwqOrder[i]: invert the order once.
  int shift_of[8];
  for (int i = 0; i < 8; ++i) shift_of[kAwqOrder[i]] = 4 * i;
  const int64_t cols = p.n / 8;
  return assemble(
      p, [&](int64_t n, int64_t k) { return (word_at(p.qweight, k * cols + n / 8) >> shift_of[n % 8]) & 0xF; },
      [&](int64_t n, int64_t g) { return (word_at(p.qzeros, g * cols + n / 8) >> shift_of[n % 8]) & 0xF; });
}

Result<QuantizedWeight> load_gptq_int4(const TensorLookup& lookup, const std::string& prefix) {
  MIXSERVE_ASSIGN_OR_RETURN(Int4Parts p, find_parts(lookup, prefix, /*awq=*/false));
  if (auto g_idx = lookup(prefix + ".g_idx"); g_idx.ok()) {
    MIXSERVE_RETURN_IF_ERROR(expect(*g_idx, prefix + ".g_idx", DType::i32, {p.k}));
    for (int64_t k = 0; k < p.k; ++k) {
      const int64_t g = static_cast<int32_t>(word_at(*g_idx, k));
      if (g != k / p.group_size) {
        return invalid_argument(prefix + ": GPTQ act-order checkpoint (g_idx[" + std::to_string(k) + "] = " +
                                std::to_string(g) + ", expected " + std::to_string(k / p.group_size) +
                                ") is not supported: re-quantize without desc_act");
      }
    }
  }
  const int64_t cols = p.n / 8;
  return assemble(
      p, [&](int64_t n, int64_t k) { return (word_at(p.qweight, (k / 8) * p.n + n) >> (4 * (k % 8))) & 0xF; },
      [&](int64_t n, int64_t g) { return ((word_at(p.qzeros, g * cols + n / 8) >> (4 * (n % 8))) + 1) & 0xF; });
}

}  // namespace mixserve
