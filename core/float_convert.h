#pragma once
// Bit-exact conversions between fp32 and the narrow float formats (fp16, bf16, fp8 e4m3fn), all rounding to
// nearest even. They run in the CPU reference kernels' inner loops and are the oracle the CUDA kernels are
// tested against, so each one matches the hardware conversion bit for bit:
//   fp16: IEEE binary16; overflow gives inf, subnormals are rounded exactly, NaN stays a (quiet) NaN.
//   bf16: the top half of an fp32, rounded; NaN stays NaN (plain rounding could carry a NaN into inf).
//   fp8 e4m3fn (OCP): no infinities; like CUDA's __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3),
//     finite values beyond 448 and infinities saturate to +-448; NaN gives 0x7F / 0xFF (sign kept).
#include <bit>
#include <cstdint>

namespace mixserve {

inline uint16_t fp32_to_fp16_bits(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) {
    // Keep the payload's top bits and force the quiet bit, so a NaN never collapses into inf.
    return static_cast<uint16_t>(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));
  }
  // 65520 (fp32 0x477FF000) is halfway between 65504, the largest fp16, and 65536; it ties to the even
  // neighbour 65536, which does not exist: inf. Everything from there up (inf included) is inf.
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);
  if (abs >= 0x38800000u) {  // >= 2^-14: an fp16 normal
    // Rebias the exponent (127 -> 15) and round off 13 mantissa bits; a carry out of the mantissa correctly
    // bumps the exponent.
    const uint32_t odd = (abs >> 13) & 1u;
    const uint32_t rounded = abs - (112u << 23) + 0xFFFu + odd;
    return static_cast<uint16_t>(sign | (rounded >> 13));
  }
  // fp16 subnormal range: the result counts units of 2^-24. At most half a unit (2^-25) rounds to zero.
  if (abs <= 0x33000000u) return sign;
  const uint32_t exponent = abs >> 23;  // biased, in [102, 112]
  const uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - exponent;  // value / 2^-24 == mantissa >> shift, shift in [14, 24]
  uint32_t q = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (q & 1u))) ++q;  // may carry into 0x400, the smallest normal: correct
  return static_cast<uint16_t>(sign | q);
}

inline float fp16_bits_to_fp32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  const uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0x1Fu) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  if (exponent == 0) {
    // mantissa * 2^-24 is exact in fp32 (10 significant bits, a normal fp32 exponent).
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
  }
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

inline uint16_t fp32_to_bf16_bits(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);  // quiet NaN
  // Adding 0x7FFF plus the lowest kept bit rounds to nearest even; overflow rounds into inf as it should.
  const uint32_t rounded = x + 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(rounded >> 16);
}

inline float bf16_bits_to_fp32(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

inline uint8_t fp32_to_fp8_e4m3_bits(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  const uint8_t sign = static_cast<uint8_t>((x >> 24) & 0x80u);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return static_cast<uint8_t>(sign | 0x7Fu);
  // Up to 464 (halfway between 448 and 480, which ties down to the even 448) rounding gives at most 448;
  // beyond, including inf, SATFINITE clamps to 448.
  if (abs > 0x43E80000u) return static_cast<uint8_t>(sign | 0x7Eu);
  if (abs >= 0x3C800000u) {  // >= 2^-6: an e4m3 normal
    // Rebias (127 -> 7) and round off 20 mantissa bits, as for fp16.
    const uint32_t odd = (abs >> 20) & 1u;
    const uint32_t rounded = abs - (120u << 23) + 0x7FFFFu + odd;
    return static_cast<uint8_t>(sign | (rounded >> 20));
  }
  // Subnormals count units of 2^-9; at most half a unit (2^-10) rounds to zero.
  if (abs <= 0x3A800000u) return sign;
  const uint32_t exponent = abs >> 23;  // biased, in [117, 120]
  const uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 141u - exponent;  // value / 2^-9 == mantissa >> shift, shift in [21, 24]
  uint32_t q = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (q & 1u))) ++q;  // may carry into 0x08, the smallest normal: correct
  return static_cast<uint8_t>(sign | q);
}

inline float fp8_e4m3_bits_to_fp32(uint8_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x80u) << 24;
  if ((bits & 0x7Fu) == 0x7Fu) return std::bit_cast<float>(sign | 0x7FC00000u);
  const uint32_t exponent = (bits >> 3) & 0xFu;
  const uint32_t mantissa = bits & 0x7u;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 0x1p-9f;  // exact
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
  }
  return std::bit_cast<float>(sign | ((exponent + 120u) << 23) | (mantissa << 20));
}

// The fp32 value nearest to `value` that the narrow format can hold (what a store and reload gives).
inline float round_to_fp16(float value) { return fp16_bits_to_fp32(fp32_to_fp16_bits(value)); }
inline float round_to_bf16(float value) { return bf16_bits_to_fp32(fp32_to_bf16_bits(value)); }

}  // namespace mixserve
