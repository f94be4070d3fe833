// Weight formats: names, dense round trips, and the RTN error bound |w - w'| <= s/2 for int8 and int4.
#include "kernels/formats/weight_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/float_convert.h"
#include "test_support.h"

namespace mixserve {
namespace {

constexpr int64_t kRows[] = {1, 3, 17};
constexpr int64_t kCols[] = {1, 45, 200, 301};  // ragged: not multiples of 8 or of any int4 group
constexpr int kGroups[] = {32, 64, 128};

bool is_fp16_value(float s) { return round_to_fp16(s) == s; }

// RTN rounds w/s to the nearest integer: the error is half a step, plus the f32 rounding of w/s itself.
float rtn_bound(float s, float w) { return s / 2 + 1e-6f * (s + std::fabs(w)); }

TEST(WeightFormat, NamesParseBack) {
  for (WeightFormat f : {WeightFormat::f32, WeightFormat::f16, WeightFormat::bf16, WeightFormat::int8,
                         WeightFormat::int4}) {
    auto parsed = parse_weight_format(weight_format_name(f));
    ASSERT_TRUE(parsed.ok()) << weight_format_name(f);
    EXPECT_EQ(*parsed, f);
  }
  auto bad = parse_weight_format("int3");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(bad.status().message().find("int3"), std::string::npos);
}

TEST(WeightFormat, DenseF32RoundTripIsExact) {
  auto rng = test::make_rng(1);
  for (int64_t n : kRows) {
    for (int64_t k : kCols) {
      const auto w = test::random_normal(n * k, rng);
      const auto q = make_dense_weight(w.data(), n, k, WeightFormat::f32);
      EXPECT_EQ(q.bytes(), static_cast<size_t>(4 * n * k));
      EXPECT_EQ(dequantize(q), w) << "n=" << n << " k=" << k;
    }
  }
}

TEST(WeightFormat, DenseHalfPrecisionEqualsRoundToNearest) {
  auto rng = test::make_rng(2);
  for (WeightFormat f : {WeightFormat::f16, WeightFormat::bf16}) {
    for (int64_t n : kRows) {
      for (int64_t k : kCols) {
        const auto w = test::random_normal(n * k, rng, 3.0f);
        const auto q = make_dense_weight(w.data(), n, k, f);
        EXPECT_EQ(q.bytes(), static_cast<size_t>(2 * n * k));
        const auto back = dequantize(q);
        for (int64_t i = 0; i < n * k; ++i) {
          const float expected = f == WeightFormat::f16 ? round_to_fp16(w[i]) : round_to_bf16(w[i]);
          ASSERT_EQ(back[i], expected) << weight_format_name(f) << " n=" << n << " k=" << k << " i=" << i;
        }
      }
    }
  }
}

TEST(WeightFormat, DenseFromBytesKeepsTheBits) {
  auto rng = test::make_rng(3);
  const int64_t n = 3, k = 45;
  const auto w = test::random_normal(n * k, rng);
  std::vector<uint16_t> bits(n * k);
  for (int64_t i = 0; i < n * k; ++i) bits[i] = fp32_to_bf16_bits(w[i]);
  const auto q = make_dense_weight_from_bytes(reinterpret_cast<const uint8_t*>(bits.data()), n, k, WeightFormat::bf16);
  const auto back = dequantize(q);
  for (int64_t i = 0; i < n * k; ++i) ASSERT_EQ(back[i], bf16_bits_to_fp32(bits[i])) << i;
  const auto q32 = make_dense_weight_from_bytes(reinterpret_cast<const uint8_t*>(w.data()), n, k, WeightFormat::f32);
  EXPECT_EQ(dequantize(q32), w);
}

TEST(WeightFormat, DequantizeRowsMatchesTheWholeMatrix) {
  auto rng = test::make_rng(4);
  const int64_t n = 17, k = 77;
  const auto w = test::random_normal(n * k, rng);
  for (const auto& q : {make_dense_weight(w.data(), n, k, WeightFormat::bf16), quantize_int8(w.data(), n, k),
                        quantize_int4(w.data(), n, k, 32)}) {
    const auto all = dequantize(q);
    std::vector<float> part((11 - 5) * k, NAN);
    dequantize_rows(q, 5, 11, part.data());
    EXPECT_TRUE(std::equal(part.begin(), part.end(), all.begin() + 5 * k)) << weight_format_name(q.format);
  }
}

TEST(WeightFormat, Int8ErrorIsWithinHalfAStep) {
  auto rng = test::make_rng(5);
  for (int64_t n : kRows) {
    for (int64_t k : kCols) {
      auto w = test::random_normal(n * k, rng, 0.05f);
      std::fill(w.begin(), w.begin() + k, 0.0f);  // an all-zero row must not divide by zero
      if (n > 1) {  // a tiny row: its scale is an fp16 subnormal
        for (int64_t c = 0; c < k; ++c) w[k + c] *= 1e-5f;
      }
      const auto q = quantize_int8(w.data(), n, k);
      ASSERT_EQ(q.scales.size(), static_cast<size_t>(n));
      EXPECT_EQ(q.bytes(), static_cast<size_t>(n * k + 2 * n));
      const auto back = dequantize(q);
      for (int64_t r = 0; r < n; ++r) {
        const float s = q.scales[r];
        EXPECT_TRUE(is_fp16_value(s)) << s;
        for (int64_t c = 0; c < k; ++c) {
          const int8_t qv = static_cast<int8_t>(q.data[r * k + c]);
          ASSERT_GE(qv, -127);
          const float wv = w[r * k + c];
          ASSERT_LE(std::fabs(wv - back[r * k + c]), rtn_bound(s, wv))
              << "n=" << n << " k=" << k << " row " << r << " col " << c << " s=" << s;
        }
      }
    }
  }
}

TEST(WeightFormat, Int4ErrorIsWithinHalfAStepAndPaddingIsZero) {
  auto rng = test::make_rng(6);
  for (int g : kGroups) {
    for (int64_t n : kRows) {
      for (int64_t k : {int64_t{45}, int64_t{g}, int64_t{2 * g + 7}, int64_t{301}}) {
        auto w = test::random_normal(n * k, rng, 0.05f);
        std::fill(w.begin(), w.begin() + k, 0.0f);  // all-zero groups
        if (n > 1) {
          for (int64_t c = 0; c < k; ++c) w[k + c] = 1.0f + 0.5f * std::fabs(w[k + c]);  // all positive
        }
        const auto q = quantize_int4(w.data(), n, k, g);
        const int64_t n_groups = (k + g - 1) / g;
        const int64_t row_bytes = n_groups * g / 2;
        ASSERT_EQ(q.n_groups(), n_groups);
        ASSERT_EQ(q.data.size(), static_cast<size_t>(n * row_bytes));
        ASSERT_EQ(q.scales.size(), static_cast<size_t>(n * n_groups));
        ASSERT_EQ(q.zeros.size(), static_cast<size_t>(n * n_groups));
        const auto back = dequantize(q);
        for (int64_t r = 0; r < n; ++r) {
          for (int64_t gi = 0; gi < n_groups; ++gi) {
            const float s = q.scales[r * n_groups + gi];
            const float z = q.zeros[r * n_groups + gi];
            EXPECT_TRUE(is_fp16_value(s)) << s;
            EXPECT_EQ(z, std::round(z));
            EXPECT_GE(z, 0.0f);
            EXPECT_LE(z, 15.0f);
            for (int64_t c = gi * g; c < (gi + 1) * g; ++c) {
              const uint8_t byte = q.data[r * row_bytes + c / 2];
              const int qv = (c & 1) ? byte >> 4 : byte & 0xF;
              if (c >= k) {  // padding dequantizes to exactly 0
                ASSERT_EQ(static_cast<float>(qv), z) << "padding col " << c;
                continue;
              }
              const float wv = w[r * k + c];
              ASSERT_LE(std::fabs(wv - back[r * k + c]), rtn_bound(s, wv))
                  << "G=" << g << " n=" << n << " k=" << k << " row " << r << " col " << c << " s=" << s;
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace mixserve
