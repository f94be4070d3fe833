#pragma once
// Element types of tensors on disk and in memory. Bit-exact conversions live in core/float_convert.h.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace mixserve {

enum class DType : uint8_t {
  f32,
  f16,
  bf16,
  fp8_e4m3,  // OCP e4m3fn: no infinities, one NaN pattern per sign, max finite 448
  i8,
  u8,
  i16,
  i32,
  i64,
  boolean,
  u4,  // packed unsigned 4-bit, two per byte, low nibble first
};

// Bits per element (4 for u4).
int dtype_bits(DType dtype);
const char* dtype_name(DType dtype);
// Bytes taken by n elements, rounding packed types up to whole bytes.
size_t dtype_bytes(DType dtype, size_t n_elements);
// Safetensors' dtype strings: "F32", "F16", "BF16", "F8_E4M3", "I8", "U8", "I16", "I32", "I64", "BOOL".
Result<DType> dtype_from_safetensors(std::string_view name);
const char* dtype_to_safetensors(DType dtype);

}  // namespace mixserve
