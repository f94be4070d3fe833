#include "core/dtype.h"

#include <string>

#include "core/check.h"

namespace mixserve {

int dtype_bits(DType dtype) {
  switch (dtype) {
    case DType::f32: return 32;
    case DType::f16: return 16;
    case DType::bf16: return 16;
    case DType::fp8_e4m3: return 8;
    case DType::i8: return 8;
    case DType::u8: return 8;
    case DType::i16: return 16;
    case DType::i32: return 32;
    case DType::i64: return 64;
    case DType::boolean: return 8;
    case DType::u4: return 4;
  }
  MIXSERVE_CHECK(false && "unknown DType");
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::fp8_e4m3: return "fp8_e4m3";
    case DType::i8: return "i8";
    case DType::u8: return "u8";
    case DType::i16: return "i16";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::boolean: return "bool";
    case DType::u4: return "u4";
  }
  MIXSERVE_CHECK(false && "unknown DType");
  return "";
}

size_t dtype_bytes(DType dtype, size_t n_elements) {
  const size_t bits = static_cast<size_t>(dtype_bits(dtype));
  if (bits % 8 == 0) return n_elements * (bits / 8);
  return (n_elements * bits + 7) / 8;
}

Result<DType> dtype_from_safetensors(std::string_view name) {
  if (name == "F32") return DType::f32;
  if (name == "F16") return DType::f16;
  if (name == "BF16") return DType::bf16;
  if (name == "F8_E4M3") return DType::fp8_e4m3;
  if (name == "I8") return DType::i8;
  if (name == "U8") return DType::u8;
  if (name == "I16") return DType::i16;
  if (name == "I32") return DType::i32;
  if (name == "I64") return DType::i64;
  if (name == "BOOL") return DType::boolean;
  return unsupported("unknown safetensors dtype \"" + std::string(name) + "\"");
}

const char* dtype_to_safetensors(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::fp8_e4m3: return "F8_E4M3";
    case DType::i8: return "I8";
    case DType::u8: return "U8";
    case DType::i16: return "I16";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::boolean: return "BOOL";
    case DType::u4: break;
  }
  // Packed 4-bit has no safetensors dtype: writers store its bytes as U8 with a byte shape, so asking for
  // its name is a bug at the call site.
  MIXSERVE_CHECK(dtype != DType::u4);
  MIXSERVE_CHECK(false && "unknown DType");
  return "";
}

}  // namespace mixserve
