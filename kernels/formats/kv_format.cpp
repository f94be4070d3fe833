#include "kernels/formats/kv_format.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/float_convert.h"

namespace mixserve {

const char* kv_format_name(KvFormat format) {
  switch (format) {
    case KvFormat::f32: return "fp32";
    case KvFormat::f16: return "fp16";
    case KvFormat::bf16: return "bf16";
    case KvFormat::fp8_e4m3: return "fp8";
    case KvFormat::int8: return "int8";
    case KvFormat::int4: return "int4";
  }
  return "unknown";
}

Result<KvFormat> parse_kv_format(const std::string& name) {
  for (KvFormat f : {KvFormat::f32, KvFormat::f16, KvFormat::bf16, KvFormat::fp8_e4m3, KvFormat::int8, KvFormat::int4}) {
    if (name == kv_format_name(f)) return f;
  }
  return invalid_argument("unknown KV cache format '" + name + "' (expected fp32, fp16, bf16, fp8, int8 or int4)");
}

int kv_format_bits(KvFormat format) {
  switch (format) {
    case KvFormat::f32: return 32;
    case KvFormat::f16:
    case KvFormat::bf16: return 16;
    case KvFormat::fp8_e4m3:
    case KvFormat::int8: return 8;
    case KvFormat::int4: return 4;
  }
  return 0;
}

bool kv_format_has_params(KvFormat format) { return format == KvFormat::int8 || format == KvFormat::int4; }

size_t KvPoolLayout::param_count() const {
  if (!kv_format_has_params(format)) return 0;
  return static_cast<size_t>(n_blocks) * n_kv_heads * block_size * 2;
}

namespace {

// Halves are stored as native-endian uint16 in the byte array; memcpy keeps the access free of alignment and
// aliasing assumptions (rows are 2-byte aligned in practice, but the view does not promise it).
void store_u16(uint8_t* dst, uint16_t v) { std::memcpy(dst, &v, sizeof v); }
uint16_t load_u16(const uint8_t* src) {
  uint16_t v;
  std::memcpy(&v, src, sizeof v);
  return v;
}

// out[i] = f(i) for i in [0, n), in blocks of 8 with a fixed inner trip count: at -O2 GCC only vectorizes
// loops it needs no epilogue for, and head_dim is a runtime value.
template <typename F>
void map_row(int n, float* __restrict out, F f) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) out[i + j] = f(i + j);
  }
  for (; i < n; ++i) out[i] = f(i);
}

// fp16 -> fp32 for whole rows, bit-identical to fp16_bits_to_fp32 but without branches (masks, not ?:) so the
// loop vectorizes: shift exponent and mantissa into place and rebias; inf/NaN get the all-ones exponent;
// subnormals are normalized by adding 2^-14 through the exponent and subtracting it in float, which is exact.
// The subtraction's result is selected by mask rather than applied to every value: float arithmetic would
// quiet a signaling NaN.
float fp16_bits_to_fp32_branchless(uint16_t h) {
  constexpr uint32_t kExpMask = 0x7C00u << 13;  // the fp16 exponent, shifted to where fp32's starts
  uint32_t bits = static_cast<uint32_t>(h & 0x7FFFu) << 13;
  const uint32_t exponent = bits & kExpMask;
  const uint32_t is_special = exponent == kExpMask, is_subnormal = exponent == 0;
  bits += ((127u - 15u) << 23) + is_special * ((128u - 16u) << 23) + (is_subnormal << 23);
  const uint32_t subnormal = std::bit_cast<uint32_t>(std::bit_cast<float>(bits) - 0x1p-14f);
  const uint32_t mask = 0u - is_subnormal;
  bits = (subnormal & mask) | (bits & ~mask);
  return std::bit_cast<float>(bits | static_cast<uint32_t>(h & 0x8000u) << 16);
}

// All 256 e4m3 values, from the reference conversion: a table lookup replaces its branches.
const float* fp8_e4m3_table() {
  static const auto table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = fp8_e4m3_bits_to_fp32(static_cast<uint8_t>(i));
    return t;
  }();
  return table.data();
}

// The integer formats: the scale and zero are rounded to fp16 first, then the codes are computed against the
// rounded values, so that dequantization (which only sees the fp16 values) is as close as the codes allow.
struct AffineParams {
  float scale;
  float zero;
};

AffineParams affine_params(const float* x, int n, int qmax) {
  const auto [lo_it, hi_it] = std::minmax_element(x, x + n);
  const float scale = round_to_fp16((*hi_it - *lo_it) / static_cast<float>(qmax));
  return {scale, round_to_fp16(*lo_it)};
}

// Division (not multiplication by a reciprocal) and round-half-even (nearbyint), as the CUDA kernels must do to
// produce the same codes.
int affine_code(float x, AffineParams p, int qmax) {
  if (p.scale == 0.0f) return 0;
  const float q = std::nearbyint((x - p.zero) / p.scale);
  return static_cast<int>(std::clamp(q, 0.0f, static_cast<float>(qmax)));
}

void write_int8(uint8_t* row, uint16_t* params, const float* x, int n) {
  const AffineParams p = affine_params(x, n, 255);
  for (int i = 0; i < n; ++i) row[i] = static_cast<uint8_t>(affine_code(x[i], p, 255));
  params[0] = fp32_to_fp16_bits(p.scale);
  params[1] = fp32_to_fp16_bits(p.zero);
}

void write_int4(uint8_t* row, uint16_t* params, const float* x, int n) {
  const AffineParams p = affine_params(x, n, 15);
  for (int i = 0; i < n; i += 2) {
    const int lo = affine_code(x[i], p, 15);
    const int hi = affine_code(x[i + 1], p, 15);
    row[i / 2] = static_cast<uint8_t>(lo | (hi << 4));
  }
  params[0] = fp32_to_fp16_bits(p.scale);
  params[1] = fp32_to_fp16_bits(p.zero);
}

// Both codes of every int4 byte as floats (low nibble first): one lookup per byte replaces unpacking nibbles,
// which GCC does not vectorize well.
const std::array<float, 2>* int4_pair_table() {
  static const auto table = [] {
    std::array<std::array<float, 2>, 256> t{};
    for (int b = 0; b < 256; ++b) t[b] = {static_cast<float>(b & 0xF), static_cast<float>(b >> 4)};
    return t;
  }();
  return table.data();
}

void read_int4(const uint8_t* row, float* __restrict out, int n, float scale, float zero) {
  const std::array<float, 2>* table = int4_pair_table();
  for (int i = 0; i < n; i += 2) {
    const std::array<float, 2>& q = table[row[i / 2]];
    out[i] = q[0] * scale + zero;
    out[i + 1] = q[1] * scale + zero;
  }
}

void check_row_address(const KvPoolLayout& l, int64_t block, int head, int slot) {
  MIXSERVE_CHECK(block >= 0 && block < l.n_blocks);
  MIXSERVE_CHECK(head >= 0 && head < l.n_kv_heads);
  MIXSERVE_CHECK(slot >= 0 && slot < l.block_size);
  MIXSERVE_CHECK(l.head_dim % 2 == 0);
}

}  // namespace

void kv_write_row(const KvPoolView& pool, int64_t block, int head, int slot, const float* x) {
  const KvPoolLayout& l = pool.layout;
  check_row_address(l, block, head, slot);
  const size_t index = l.row_index(block, head, slot);
  uint8_t* row = pool.data + index * l.row_bytes();
  const int n = l.head_dim;
  switch (l.format) {
    case KvFormat::f32:
      std::memcpy(row, x, n * sizeof(float));
      return;
    case KvFormat::f16:
      for (int i = 0; i < n; ++i) store_u16(row + 2 * i, fp32_to_fp16_bits(x[i]));
      return;
    case KvFormat::bf16:
      for (int i = 0; i < n; ++i) store_u16(row + 2 * i, fp32_to_bf16_bits(x[i]));
      return;
    case KvFormat::fp8_e4m3:
      for (int i = 0; i < n; ++i) row[i] = fp32_to_fp8_e4m3_bits(x[i] / pool.fp8_scale);
      return;
    case KvFormat::int8:
      MIXSERVE_CHECK(pool.params != nullptr);
      write_int8(row, pool.params + index * 2, x, n);
      return;
    case KvFormat::int4:
      MIXSERVE_CHECK(pool.params != nullptr);
      write_int4(row, pool.params + index * 2, x, n);
      return;
  }
}

void kv_read_row(const KvPoolView& pool, int64_t block, int head, int slot, float* out) {
  const KvPoolLayout& l = pool.layout;
  check_row_address(l, block, head, slot);
  const size_t index = l.row_index(block, head, slot);
  const uint8_t* row = pool.data + index * l.row_bytes();
  const int n = l.head_dim;
  switch (l.format) {
    case KvFormat::f32:
      std::memcpy(out, row, n * sizeof(float));
      return;
    case KvFormat::f16:
      map_row(n, out, [row](int i) { return fp16_bits_to_fp32_branchless(load_u16(row + 2 * i)); });
      return;
    case KvFormat::bf16:
      map_row(n, out, [row](int i) { return bf16_bits_to_fp32(load_u16(row + 2 * i)); });
      return;
    case KvFormat::fp8_e4m3: {
      const float* table = fp8_e4m3_table();
      const float s = pool.fp8_scale;
      map_row(n, out, [row, table, s](int i) { return table[row[i]] * s; });
      return;
    }
    case KvFormat::int8:
    case KvFormat::int4: {
      MIXSERVE_CHECK(pool.params != nullptr);
      const float scale = fp16_bits_to_fp32(pool.params[index * 2]);
      const float zero = fp16_bits_to_fp32(pool.params[index * 2 + 1]);
      if (l.format == KvFormat::int8) {
        map_row(n, out, [=](int i) { return static_cast<float>(row[i]) * scale + zero; });
      } else {
        read_int4(row, out, n, scale, zero);
      }
      return;
    }
  }
}

}  // namespace mixserve
