#include "kernels/formats/weight_format.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/float_convert.h"
#include "kernels/formats/packed_weight.h"

namespace mixserve {
namespace {

size_t dense_element_bytes(WeightFormat format) {
  switch (format) {
    case WeightFormat::f32: return 4;
    case WeightFormat::f16:
    case WeightFormat::bf16: return 2;
    default: break;
  }
  MIXSERVE_CHECK(!"not a dense weight format");
  return 0;
}

// The smallest fp16 value >= x (x >= 0, finite). Scales are rounded up, never to nearest: then every weight
// of the channel or group lies inside the range the integer grid covers, and RTN's error stays <= s/2.
float fp16_at_least(float x) {
  uint16_t bits = fp32_to_fp16_bits(x);
  if (fp16_bits_to_fp32(bits) < x) ++bits;  // positive fp16 values order like their bit patterns
  const float s = fp16_bits_to_fp32(bits);
  MIXSERVE_CHECK(std::isfinite(s));  // weights beyond ~1e6 cannot have an fp16 scale: not a real checkpoint
  return s;
}

// Ties to even, as torch.round (and so GPTQ/AWQ's RTN) does.
int round_to_int(float v) { return static_cast<int>(std::nearbyint(v)); }

uint16_t load_u16(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);  // little-endian host, as in safetensors
  return bits;
}

// The loops below copy kBlock source elements into a local array and convert from there: at -O2 GCC
// vectorizes only loops whose trip count is a known multiple of the vector width and that need no runtime
// aliasing checks (a uint8_t source may alias the output), so this is how they become SIMD without -O3.
constexpr int64_t kBlock = 16;

void dequantize_bf16(const uint8_t* src, int64_t count, float* out) {
  int64_t i = 0;
  for (; i + kBlock <= count; i += kBlock) {
    uint16_t bits[kBlock];
    std::memcpy(bits, src + 2 * i, sizeof bits);
    for (int64_t l = 0; l < kBlock; ++l) out[i + l] = bf16_bits_to_fp32(bits[l]);
  }
  for (; i < count; ++i) out[i] = bf16_bits_to_fp32(load_u16(src + 2 * i));
}

void dequantize_int8_row(const int8_t* q, float s, int64_t k, float* out) {
  int64_t c = 0;
  for (; c + kBlock <= k; c += kBlock) {
    int8_t block[kBlock];
    std::memcpy(block, q + c, sizeof block);
    for (int64_t l = 0; l < kBlock; ++l) out[c + l] = static_cast<float>(block[l]) * s;
  }
  for (; c < k; ++c) out[c] = static_cast<float>(q[c]) * s;
}

void dequantize_int4_row(const QuantizedWeight& w, int64_t row, float* out) {
  const int64_t n_groups = w.n_groups();
  const uint8_t* q = w.data.data() + row * (n_groups * w.group_size / 2);  // [k_padded / 2]
  const float* scales = w.scales.data() + row * n_groups;                 // [n_groups]
  const float* zeros = w.zeros.data() + row * n_groups;                   // [n_groups]
  for (int64_t g = 0; g < n_groups; ++g) {
    // All 16 values of the group, computed as (q - z) * s once; unpacking is then two lookups per byte,
    // faster than converting nibbles (which interleave) to float.
    float table[16];
    for (int v = 0; v < 16; ++v) table[v] = (static_cast<float>(v) - zeros[g]) * scales[g];
    const int64_t begin = g * w.group_size;
    const int64_t end = std::min(w.k, begin + w.group_size);
    int64_t c = begin;  // even: groups hold an even number of columns
    for (; c + 1 < end; c += 2) {
      const uint8_t byte = q[c / 2];
      out[c] = table[byte & 0xF];
      out[c + 1] = table[byte >> 4];
    }
    if (c < end) out[c] = table[q[c / 2] & 0xF];
  }
}

}  // namespace

const char* weight_format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::f32: return "f32";
    case WeightFormat::f16: return "fp16";
    case WeightFormat::bf16: return "bf16";
    case WeightFormat::int8: return "int8";
    case WeightFormat::int4: return "int4";
    case WeightFormat::fp8_e4m3: return "fp8";
  }
  return "unknown";
}

Result<WeightFormat> parse_weight_format(const std::string& name) {
  for (WeightFormat f : {WeightFormat::f32, WeightFormat::f16, WeightFormat::bf16, WeightFormat::int8,
                         WeightFormat::int4, WeightFormat::fp8_e4m3}) {
    if (name == weight_format_name(f)) return f;
  }
  return invalid_argument("unknown weight format '" + name + "' (expected f32, fp16, bf16, int8, int4 or fp8)");
}

QuantizedWeight make_dense_weight(const float* w, int64_t n, int64_t k, WeightFormat format) {
  QuantizedWeight out{.format = format, .n = n, .k = k};
  const size_t count = static_cast<size_t>(n * k);
  out.data.resize(count * dense_element_bytes(format));
  if (format == WeightFormat::f32) {
    std::memcpy(out.data.data(), w, count * 4);
    return out;
  }
  const bool is_f16 = format == WeightFormat::f16;
  for (size_t i = 0; i < count; ++i) {
    const uint16_t bits = is_f16 ? fp32_to_fp16_bits(w[i]) : fp32_to_bf16_bits(w[i]);
    std::memcpy(out.data.data() + 2 * i, &bits, 2);  // little-endian host, as in safetensors
  }
  return out;
}

QuantizedWeight make_dense_weight_from_bytes(const uint8_t* bytes, int64_t n, int64_t k, WeightFormat format) {
  QuantizedWeight out{.format = format, .n = n, .k = k};
  out.data.assign(bytes, bytes + static_cast<size_t>(n * k) * dense_element_bytes(format));
  return out;
}

QuantizedWeight quantize_int8(const float* w, int64_t n, int64_t k) {
  QuantizedWeight out{.format = WeightFormat::int8, .n = n, .k = k};
  out.data.resize(static_cast<size_t>(n * k));
  out.scales.resize(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    const float* row = w + r * k;  // [k]
    float amax = 0;
    for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(row[c]));
    const float s = amax > 0 ? fp16_at_least(amax / 127.0f) : 0.0f;  // an all-zero row keeps q = 0, s = 0
    out.scales[r] = s;
    for (int64_t c = 0; c < k; ++c) {
      const int q = s > 0 ? std::clamp(round_to_int(row[c] / s), -127, 127) : 0;
      out.data[r * k + c] = static_cast<uint8_t>(static_cast<int8_t>(q));
    }
  }
  return out;
}

namespace {
constexpr float kFp8Max = 448.0f;  // the largest finite e4m3fn value

// Rounds row [k] to e4m3 with scale s (> 0): bits into q when given, the dequantized values into out when given.
void round_row_to_fp8(const float* row, int64_t k, float s, uint8_t* q, float* out) {
  for (int64_t c = 0; c < k; ++c) {
    const uint8_t bits = fp32_to_fp8_e4m3_bits(row[c] / s);  // saturating, like __NV_SATFINITE
    if (q) q[c] = bits;
    if (out) out[c] = fp8_e4m3_bits_to_fp32(bits) * s;
  }
}

float row_amax(const float* row, int64_t k) {
  float amax = 0;
  for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(row[c]));
  return amax;
}
}  // namespace

QuantizedWeight quantize_fp8(const float* w, int64_t n, int64_t k) {
  QuantizedWeight out{.format = WeightFormat::fp8_e4m3, .n = n, .k = k};
  out.data.assign(static_cast<size_t>(n * k), 0);  // e4m3 bits 0 = +0
  out.scales.resize(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    const float amax = row_amax(w + r * k, k);
    // Rounded up to fp16 so amax / s stays <= 448: the largest weight lands on a finite e4m3 value.
    const float s = amax > 0 ? fp16_at_least(amax / kFp8Max) : 0.0f;
    out.scales[r] = s;
    if (s > 0) round_row_to_fp8(w + r * k, k, s, out.data.data() + r * k, nullptr);
  }
  return out;
}

void round_activations_to_fp8(float* x, int64_t m, int64_t k) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = x + i * k;  // [k]
    const float amax = row_amax(row, k);
    if (amax > 0) round_row_to_fp8(row, k, amax / kFp8Max, nullptr, row);  // f32 scale, as per-token scales are
  }
}

// Each group's range is widened to include 0 (as GPTQ/AWQ do), so the zero point -lo/s lands in [0, 15] and
// is stored rounded to an integer. Padding: columns [k, k_padded) of the last group hold q = z, which
// dequantizes to exactly 0, so a kernel that reads whole groups needs no special tail.
QuantizedWeight quantize_int4(const float* w, int64_t n, int64_t k, int group_size) {
  MIXSERVE_CHECK(group_size == 32 || group_size == 64 || group_size == 128);
  QuantizedWeight out{.format = WeightFormat::int4, .n = n, .k = k, .group_size = group_size};
  const int64_t n_groups = out.n_groups();
  const int64_t row_bytes = n_groups * group_size / 2;
  out.data.assign(static_cast<size_t>(n * row_bytes), 0);
  out.scales.resize(static_cast<size_t>(n * n_groups));
  out.zeros.resize(static_cast<size_t>(n * n_groups));
  for (int64_t r = 0; r < n; ++r) {
    uint8_t* q_row = out.data.data() + r * row_bytes;  // [k_padded / 2]
    for (int64_t g = 0; g < n_groups; ++g) {
      const int64_t begin = g * group_size;
      const int64_t end = std::min(k, begin + group_size);
      float lo = 0, hi = 0;
      for (int64_t c = begin; c < end; ++c) {
        lo = std::min(lo, w[r * k + c]);
        hi = std::max(hi, w[r * k + c]);
      }
      const float s = hi > lo ? fp16_at_least((hi - lo) / 15.0f) : 0.0f;
      const int z = s > 0 ? std::clamp(round_to_int(-lo / s), 0, 15) : 0;
      out.scales[r * n_groups + g] = s;
      out.zeros[r * n_groups + g] = static_cast<float>(z);
      for (int64_t c = begin; c < begin + group_size; ++c) {
        const int q = c < end && s > 0 ? std::clamp(round_to_int(w[r * k + c] / s) + z, 0, 15) : z;
        q_row[c / 2] |= static_cast<uint8_t>((c & 1) ? q << 4 : q);
      }
    }
  }
  return out;
}

void dequantize_rows(const QuantizedWeight& w, int64_t row_begin, int64_t row_end, float* out) {
  if (w.layout == WeightLayout::mma_v1) return dequantize_packed_rows(w, row_begin, row_end, out);
  MIXSERVE_CHECK(w.layout == WeightLayout::row_major);
  MIXSERVE_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= w.n);
  const int64_t k = w.k;
  const int64_t count = (row_end - row_begin) * k;
  switch (w.format) {
    case WeightFormat::f32:
      std::memcpy(out, w.data.data() + row_begin * k * 4, static_cast<size_t>(count) * 4);
      return;
    case WeightFormat::f16:
    case WeightFormat::bf16: {
      const uint8_t* src = w.data.data() + row_begin * k * 2;  // [rows][k] 16-bit elements
      if (w.format == WeightFormat::bf16) {
        dequantize_bf16(src, count, out);
      } else {
        for (int64_t i = 0; i < count; ++i) out[i] = fp16_bits_to_fp32(load_u16(src + 2 * i));
      }
      return;
    }
    case WeightFormat::int8:
      for (int64_t r = row_begin; r < row_end; ++r) {
        const int8_t* q = reinterpret_cast<const int8_t*>(w.data.data()) + r * k;  // [k]
        dequantize_int8_row(q, w.scales[r], k, out + (r - row_begin) * k);
      }
      return;
    case WeightFormat::int4:
      for (int64_t r = row_begin; r < row_end; ++r) dequantize_int4_row(w, r, out + (r - row_begin) * k);
      return;
    case WeightFormat::fp8_e4m3:
      for (int64_t r = row_begin; r < row_end; ++r) {
        const uint8_t* q = w.data.data() + r * k;  // [k] e4m3 bit patterns
        float* o = out + (r - row_begin) * k;
        for (int64_t c = 0; c < k; ++c) o[c] = fp8_e4m3_bits_to_fp32(q[c]) * w.scales[r];
      }
      return;
  }
}

std::vector<float> dequantize(const QuantizedWeight& w) {
  std::vector<float> out(static_cast<size_t>(w.n * w.k));
  dequantize_rows(w, 0, w.n, out.data());
  return out;
}

}  // namespace mixserve
