#include "core/float_convert.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "test_support.h"

namespace mixserve {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

float from_bits(uint32_t bits) { return std::bit_cast<float>(bits); }
uint32_t to_bits(float value) { return std::bit_cast<uint32_t>(value); }
float next_up(float x) { return std::nextafter(x, kInf); }
float next_down(float x) { return std::nextafter(x, -kInf); }

// An independent oracle: the nearest point of a binary grid with `mantissa_bits` stored bits and normals
// from 2^min_exponent, found with long double arithmetic (exact power-of-two scaling, then nearbyintl,
// which ties to even) rather than with bit manipulation. Overflow is left to the caller.
long double grid_round(float x, int mantissa_bits, int min_exponent) {
  const long double magnitude = std::fabs(static_cast<long double>(x));
  if (magnitude == 0) return x;
  int e = 0;
  std::frexp(magnitude, &e);  // magnitude = f * 2^e with f in [0.5, 1)
  const int exponent = std::max(e - 1, min_exponent);
  const long double quantum = std::ldexp(1.0L, exponent - mantissa_bits);
  const long double rounded = std::nearbyint(magnitude / quantum) * quantum;
  return std::signbit(x) ? -rounded : rounded;
}

float reference_fp16(float x) {
  if (std::isinf(x)) return x;
  const long double r = grid_round(x, 10, -14);
  return std::fabs(r) > 65504.0L ? std::copysign(kInf, x) : static_cast<float>(r);
}
float reference_bf16(float x) {
  if (std::isinf(x)) return x;
  const long double r = grid_round(x, 7, -126);
  const long double max_bf16 = std::ldexp(255.0L, 120);  // 0x7F7F: (2 - 2^-7) * 2^127
  return std::fabs(r) > max_bf16 ? std::copysign(kInf, x) : static_cast<float>(r);
}
float reference_fp8(float x) {
  if (std::isinf(x)) return std::copysign(448.0f, x);
  const long double r = grid_round(x, 3, -6);
  return std::fabs(r) > 448.0L ? std::copysign(448.0f, x) : static_cast<float>(r);
}

// Decoders checked against the textbook formula (-1)^s * 2^(e - bias) * (1 + m / 2^k), subnormals 2^(1-bias) * m/2^k.
float formula_decode(uint32_t bits, int exponent_bits, int mantissa_bits) {
  const int bias = (1 << (exponent_bits - 1)) - 1;
  const uint32_t mantissa = bits & ((1u << mantissa_bits) - 1);
  const int exponent = static_cast<int>((bits >> mantissa_bits) & ((1u << exponent_bits) - 1));
  const bool negative = (bits >> (mantissa_bits + exponent_bits)) & 1u;
  const double fraction = static_cast<double>(mantissa) / (1u << mantissa_bits);
  const double magnitude = exponent == 0 ? std::ldexp(fraction, 1 - bias) : std::ldexp(1.0 + fraction, exponent - bias);
  return static_cast<float>(negative ? -magnitude : magnitude);
}

TEST(FloatConvertTest, Fp16EdgeValues) {
  EXPECT_EQ(fp32_to_fp16_bits(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_fp16_bits(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16_bits(0x1p-24f), 0x0001);                   // smallest subnormal
  EXPECT_EQ(fp32_to_fp16_bits(1023 * 0x1p-24f), 0x03FF);            // largest subnormal
  EXPECT_EQ(fp32_to_fp16_bits(0x1p-14f), 0x0400);                   // smallest normal
  EXPECT_EQ(fp32_to_fp16_bits(65504.0f), 0x7BFF);                   // largest finite
  EXPECT_EQ(fp32_to_fp16_bits(-65504.0f), 0xFBFF);
  EXPECT_EQ(fp32_to_fp16_bits(next_down(65520.0f)), 0x7BFF);        // just below the overflow tie
  EXPECT_EQ(fp32_to_fp16_bits(65520.0f), 0x7C00);                   // tie to the (missing) even: inf
  EXPECT_EQ(fp32_to_fp16_bits(1e10f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16_bits(-1e10f), 0xFC00);
  EXPECT_EQ(fp32_to_fp16_bits(kInf), 0x7C00);
  EXPECT_EQ(fp32_to_fp16_bits(-kInf), 0xFC00);
  EXPECT_EQ(fp32_to_fp16_bits(1.0f), 0x3C00);
  EXPECT_EQ(fp32_to_fp16_bits(-2.0f), 0xC000);

  EXPECT_EQ(fp16_bits_to_fp32(0x0001), 0x1p-24f);
  EXPECT_EQ(fp16_bits_to_fp32(0x03FF), 1023 * 0x1p-24f);
  EXPECT_EQ(fp16_bits_to_fp32(0x0400), 0x1p-14f);
  EXPECT_EQ(fp16_bits_to_fp32(0x7BFF), 65504.0f);
  EXPECT_EQ(fp16_bits_to_fp32(0x7C00), kInf);
  EXPECT_EQ(fp16_bits_to_fp32(0xFC00), -kInf);
  EXPECT_EQ(to_bits(fp16_bits_to_fp32(0x8000)), 0x80000000u);

  // NaN stays a quiet NaN and keeps its sign, whatever payload bits survive.
  for (uint32_t nan_bits : {0x7FC00000u, 0x7F800001u, 0x7FBFFFFFu, 0xFFC00000u, 0xFF800001u}) {
    const uint16_t h = fp32_to_fp16_bits(from_bits(nan_bits));
    EXPECT_EQ(h & 0x7C00, 0x7C00) << std::hex << nan_bits;
    EXPECT_NE(h & 0x0200, 0) << std::hex << nan_bits;
    EXPECT_EQ(h >> 15, nan_bits >> 31) << std::hex << nan_bits;
    EXPECT_TRUE(std::isnan(fp16_bits_to_fp32(h)));
  }
}

TEST(FloatConvertTest, Fp16TiesToEven) {
  const float ulp = 0x1p-10f;  // fp16 spacing in [1, 2)
  EXPECT_EQ(fp32_to_fp16_bits(1.0f + ulp / 2), 0x3C00);              // tie, down to even 0x3C00
  EXPECT_EQ(fp32_to_fp16_bits(1.0f + 3 * ulp / 2), 0x3C02);          // tie, up to even 0x3C02
  EXPECT_EQ(fp32_to_fp16_bits(next_up(1.0f + ulp / 2)), 0x3C01);     // just above the tie
  EXPECT_EQ(fp32_to_fp16_bits(next_down(1.0f + 3 * ulp / 2)), 0x3C01);  // just below the tie
  EXPECT_EQ(fp32_to_fp16_bits(-(1.0f + ulp / 2)), 0xBC00);
  EXPECT_EQ(fp32_to_fp16_bits(2047.0f + 0.5f), 0x6800);              // 2047.5 ties up to 2048 across a binade
  // Subnormals: units of 2^-24.
  EXPECT_EQ(fp32_to_fp16_bits(0x1p-25f), 0x0000);                    // half a unit ties to 0
  EXPECT_EQ(fp32_to_fp16_bits(next_up(0x1p-25f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16_bits(-0x1p-25f), 0x8000);
  EXPECT_EQ(fp32_to_fp16_bits(0x1p-26f), 0x0000);
  EXPECT_EQ(fp32_to_fp16_bits(3 * 0x1p-25f), 0x0002);                // 1.5 units: up to 2
  EXPECT_EQ(fp32_to_fp16_bits(5 * 0x1p-25f), 0x0002);                // 2.5 units: down to 2
  EXPECT_EQ(fp32_to_fp16_bits(next_down(3 * 0x1p-25f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16_bits(next_up(5 * 0x1p-25f)), 0x0003);
  EXPECT_EQ(fp32_to_fp16_bits(2047 * 0x1p-25f), 0x0400);             // 1023.5 units: up into the normals
}

TEST(FloatConvertTest, Bf16EdgeValues) {
  EXPECT_EQ(fp32_to_bf16_bits(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_bf16_bits(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_bf16_bits(0x1p-133f), 0x0001);                   // smallest subnormal
  EXPECT_EQ(fp32_to_bf16_bits(127 * 0x1p-133f), 0x007F);             // largest subnormal
  EXPECT_EQ(fp32_to_bf16_bits(0x1p-126f), 0x0080);                   // smallest normal
  EXPECT_EQ(fp32_to_bf16_bits(from_bits(0x7F7F0000u)), 0x7F7F);      // largest finite
  EXPECT_EQ(fp32_to_bf16_bits(from_bits(0x7F7F7FFFu)), 0x7F7F);      // just below the overflow tie
  EXPECT_EQ(fp32_to_bf16_bits(from_bits(0x7F7F8000u)), 0x7F80);      // tie rounds to inf
  EXPECT_EQ(fp32_to_bf16_bits(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(fp32_to_bf16_bits(-std::numeric_limits<float>::max()), 0xFF80);
  EXPECT_EQ(fp32_to_bf16_bits(kInf), 0x7F80);
  EXPECT_EQ(fp32_to_bf16_bits(-kInf), 0xFF80);
  EXPECT_EQ(bf16_bits_to_fp32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_bits_to_fp32(0x0001), 0x1p-133f);
  // Plain rounding would carry these NaNs into the exponent (inf) or out of it (sign flip).
  for (uint32_t nan_bits : {0x7FC00000u, 0x7F800001u, 0x7FFFFFFFu, 0x7F80FFFFu, 0xFFFFFFFFu, 0xFF800001u}) {
    const uint16_t b = fp32_to_bf16_bits(from_bits(nan_bits));
    EXPECT_TRUE(std::isnan(bf16_bits_to_fp32(b))) << std::hex << nan_bits;
    EXPECT_EQ(b >> 15, nan_bits >> 31) << std::hex << nan_bits;
  }
}

TEST(FloatConvertTest, Bf16TiesToEven) {
  const float ulp = 0x1p-7f;
  EXPECT_EQ(fp32_to_bf16_bits(1.0f + ulp / 2), 0x3F80);
  EXPECT_EQ(fp32_to_bf16_bits(1.0f + 3 * ulp / 2), 0x3F82);
  EXPECT_EQ(fp32_to_bf16_bits(next_up(1.0f + ulp / 2)), 0x3F81);
  EXPECT_EQ(fp32_to_bf16_bits(next_down(1.0f + 3 * ulp / 2)), 0x3F81);
  EXPECT_EQ(fp32_to_bf16_bits(-(1.0f + 3 * ulp / 2)), 0xBF82);
  EXPECT_EQ(fp32_to_bf16_bits(0x1p-134f), 0x0000);                   // half the smallest subnormal
  EXPECT_EQ(fp32_to_bf16_bits(3 * 0x1p-134f), 0x0002);
  EXPECT_EQ(round_to_bf16(1.0f + ulp / 4), 1.0f);
  EXPECT_EQ(round_to_bf16(3.14159265f), 3.140625f);
}

TEST(FloatConvertTest, Fp8E4m3EdgeValues) {
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(0.0f), 0x00);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(-0.0f), 0x80);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(0x1p-9f), 0x01);                   // smallest subnormal
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(7 * 0x1p-9f), 0x07);               // largest subnormal
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(0x1p-6f), 0x08);                   // smallest normal
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(448.0f), 0x7E);                    // largest finite
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(-448.0f), 0xFE);
  // SATFINITE: everything finite beyond 448, and infinities, saturate.
  for (float big : {449.0f, next_down(464.0f), 464.0f, next_up(464.0f), 480.0f, 1e6f, 3e38f, kInf}) {
    EXPECT_EQ(fp32_to_fp8_e4m3_bits(big), 0x7E) << big;
    EXPECT_EQ(fp32_to_fp8_e4m3_bits(-big), 0xFE) << big;
  }
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(kNaN), 0x7F);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(-kNaN), 0xFF);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(from_bits(0x7F800001u)), 0x7F);
  EXPECT_TRUE(std::isnan(fp8_e4m3_bits_to_fp32(0x7F)));
  EXPECT_TRUE(std::isnan(fp8_e4m3_bits_to_fp32(0xFF)));
  EXPECT_EQ(fp8_e4m3_bits_to_fp32(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_bits_to_fp32(0x78), 256.0f);  // exponent 15 is a normal binade in e4m3fn, not inf
  EXPECT_EQ(fp8_e4m3_bits_to_fp32(0x01), 0x1p-9f);
  EXPECT_EQ(fp8_e4m3_bits_to_fp32(0x38), 1.0f);
  EXPECT_EQ(to_bits(fp8_e4m3_bits_to_fp32(0x80)), 0x80000000u);
}

TEST(FloatConvertTest, Fp8E4m3TiesToEven) {
  const float ulp = 0x1p-3f;
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(1.0f + ulp / 2), 0x38);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(1.0f + 3 * ulp / 2), 0x3A);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(next_up(1.0f + ulp / 2)), 0x39);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(next_down(1.0f + 3 * ulp / 2)), 0x39);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(-(1.0f + ulp / 2)), 0xB8);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(432.0f), 0x7E);                    // tie between 416 (odd) and 448: up
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(400.0f), 0x7C);                    // tie between 384 (even) and 416: down
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(0x1p-10f), 0x00);                  // half the smallest subnormal
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(next_up(0x1p-10f)), 0x01);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(-0x1p-10f), 0x80);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(3 * 0x1p-10f), 0x02);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(5 * 0x1p-10f), 0x02);
  EXPECT_EQ(fp32_to_fp8_e4m3_bits(15 * 0x1p-10f), 0x08);             // 7.5 units: up into the normals
}

TEST(FloatConvertTest, EveryFp16PatternRoundTripsExactly) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    const float value = fp16_bits_to_fp32(h);
    const bool nan = (h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0;
    if (nan) {
      ASSERT_TRUE(std::isnan(value)) << std::hex << bits;
      // Encoding sets the quiet bit and keeps sign and payload.
      ASSERT_EQ(fp32_to_fp16_bits(value), h | 0x0200) << std::hex << bits;
      continue;
    }
    if ((h & 0x7FFF) == 0x7C00) {
      ASSERT_EQ(value, (h & 0x8000) ? -kInf : kInf);
    } else {
      ASSERT_EQ(value, formula_decode(h, 5, 10)) << std::hex << bits;
    }
    ASSERT_EQ(fp32_to_fp16_bits(value), h) << std::hex << bits;
    ASSERT_EQ(to_bits(round_to_fp16(value)), to_bits(value)) << std::hex << bits;
  }
}

TEST(FloatConvertTest, EveryBf16PatternRoundTripsExactly) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const uint16_t b = static_cast<uint16_t>(bits);
    const float value = bf16_bits_to_fp32(b);
    ASSERT_EQ(to_bits(value), bits << 16);
    const bool nan = (b & 0x7F80) == 0x7F80 && (b & 0x007F) != 0;
    if (nan) {
      ASSERT_EQ(fp32_to_bf16_bits(value), b | 0x0040) << std::hex << bits;
      continue;
    }
    ASSERT_EQ(fp32_to_bf16_bits(value), b) << std::hex << bits;
    ASSERT_EQ(to_bits(round_to_bf16(value)), to_bits(value)) << std::hex << bits;
  }
}

TEST(FloatConvertTest, EveryFp8PatternRoundTripsExactly) {
  for (uint32_t bits = 0; bits <= 0xFF; ++bits) {
    const uint8_t f8 = static_cast<uint8_t>(bits);
    const float value = fp8_e4m3_bits_to_fp32(f8);
    if ((bits & 0x7F) == 0x7F) {
      ASSERT_TRUE(std::isnan(value));
    } else {
      ASSERT_EQ(value, formula_decode(f8, 4, 3)) << std::hex << bits;
    }
    ASSERT_EQ(fp32_to_fp8_e4m3_bits(value), f8) << std::hex << bits;
  }
}

// fp32 patterns drawn two ways: uniformly over all bits, and concentrated on exponents near the narrow
// format's range (where subnormals, ties and overflow happen), with the low mantissa bits often cleared to
// make exact ties frequent.
float random_float(std::mt19937_64& rng, int exponent_lo, int exponent_hi) {
  uint32_t bits = static_cast<uint32_t>(rng());
  if (rng() % 4 == 0) return from_bits(bits);
  const uint32_t exponent = static_cast<uint32_t>(exponent_lo + static_cast<int>(rng() % (exponent_hi - exponent_lo + 1)));
  bits = (bits & 0x807FFFFFu) | (exponent << 23);
  if (rng() % 3 == 0) bits &= ~((1u << (rng() % 23)) - 1u);
  return from_bits(bits);
}

TEST(FloatConvertTest, RandomFp32ToFp16MatchesLongDoubleReference) {
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  auto rng = test::make_rng(16);
  for (int i = 0; i < 2'000'000; ++i) {
    const float x = random_float(rng, 127 - 27, 127 + 17);
    if (std::isnan(x)) continue;
    const float expected = reference_fp16(x);
    ASSERT_EQ(to_bits(fp16_bits_to_fp32(fp32_to_fp16_bits(x))), to_bits(expected)) << std::hexfloat << x;
  }
}

TEST(FloatConvertTest, RandomFp32ToBf16AndFp8MatchLongDoubleReference) {
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  auto rng = test::make_rng(8);
  for (int i = 0; i < 1'000'000; ++i) {
    const float b = random_float(rng, 0, 254);
    if (!std::isnan(b)) {
      ASSERT_EQ(to_bits(round_to_bf16(b)), to_bits(reference_bf16(b))) << std::hexfloat << b;
    }
    const float f = random_float(rng, 127 - 12, 127 + 10);
    if (!std::isnan(f)) {
      ASSERT_EQ(to_bits(fp8_e4m3_bits_to_fp32(fp32_to_fp8_e4m3_bits(f))), to_bits(reference_fp8(f)))
          << std::hexfloat << f;
    }
  }
}

}  // namespace
}  // namespace mixserve
