// The paged KV pool format: names, per-format round trips and error bounds, and the byte layout.
#include "kernels/formats/kv_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/float_convert.h"
#include "test_support.h"

namespace mixserve {
namespace {

constexpr KvFormat kAllFormats[] = {KvFormat::f32, KvFormat::f16, KvFormat::bf16, KvFormat::fp8_e4m3, KvFormat::int8,
                                    KvFormat::int4};

// A pool with its own storage, poisoned so that untouched bytes are recognizable.
struct OwnedPool {
  static constexpr uint8_t kPoison = 0xA5;
  std::vector<uint8_t> data;
  std::vector<uint16_t> params;
  KvPoolView view;

  explicit OwnedPool(KvPoolLayout layout, float fp8_scale = 1.0f)
      : data(layout.data_bytes(), kPoison), params(layout.param_count(), 0xA5A5) {
    view = {.layout = layout, .data = data.data(), .params = params.empty() ? nullptr : params.data(),
            .fp8_scale = fp8_scale};
  }
};

KvPoolLayout small_layout(KvFormat format, int head_dim = 64) {
  return {.n_blocks = 3, .block_size = 4, .n_kv_heads = 2, .head_dim = head_dim, .format = format};
}

// Writes one row and reads it back.
std::vector<float> round_trip(const OwnedPool& pool, const std::vector<float>& x) {
  kv_write_row(pool.view, 1, 1, 2, x.data());
  std::vector<float> out(x.size(), NAN);
  kv_read_row(pool.view, 1, 1, 2, out.data());
  return out;
}

TEST(KvFormat, NamesParseBack) {
  for (KvFormat f : kAllFormats) {
    auto parsed = parse_kv_format(kv_format_name(f));
    ASSERT_TRUE(parsed.ok()) << kv_format_name(f);
    EXPECT_EQ(*parsed, f);
  }
  auto bad = parse_kv_format("int3");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(bad.status().message().find("int3"), std::string::npos);
}

TEST(KvFormat, SizesFollowTheBitWidth) {
  const int bits[] = {32, 16, 16, 8, 8, 4};
  static_assert(std::size(bits) == std::size(kAllFormats));
  for (size_t i = 0; i < std::size(bits); ++i) {
    const KvPoolLayout l = small_layout(kAllFormats[i], 128);
    EXPECT_EQ(kv_format_bits(l.format), bits[i]);
    EXPECT_EQ(l.row_bytes(), 128u * bits[i] / 8);
    EXPECT_EQ(l.data_bytes(), 3u * 2 * 4 * l.row_bytes());
    EXPECT_EQ(l.param_count(), kv_format_has_params(l.format) ? 3u * 2 * 4 * 2 : 0u);
  }
  EXPECT_TRUE(kv_format_has_params(KvFormat::int8));
  EXPECT_TRUE(kv_format_has_params(KvFormat::int4));
  EXPECT_FALSE(kv_format_has_params(KvFormat::fp8_e4m3));
}

TEST(KvFormat, Fp32StoresRowsUnchanged) {
  auto rng = test::make_rng(77);
  const auto x = test::random_normal(64, rng, 3.0f);
  OwnedPool f32(small_layout(KvFormat::f32));
  EXPECT_EQ(round_trip(f32, x), x);
  EXPECT_EQ(small_layout(KvFormat::f32).row_bytes(), 256u);
}

TEST(KvFormat, HalfFormatsRoundToNearestEven) {
  auto rng = test::make_rng(1);
  std::vector<float> x = test::random_normal(64, rng, 3.0f);
  x[0] = 1e-6f;     // fp16 subnormal
  x[1] = 70000.0f;  // fp16 overflow: inf, as a plain fp16 store gives
  OwnedPool f16(small_layout(KvFormat::f16)), bf16(small_layout(KvFormat::bf16));
  const auto y16 = round_trip(f16, x), yb16 = round_trip(bf16, x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(y16[i], round_to_fp16(x[i])) << i;
    EXPECT_EQ(yb16[i], round_to_bf16(x[i])) << i;
  }
}

// Reads decode every bit pattern exactly as core/float_convert.h does (NaN payloads and subnormals included).
TEST(KvFormat, ReadsDecodeEveryBitPattern) {
  OwnedPool f16(small_layout(KvFormat::f16)), bf16(small_layout(KvFormat::bf16)), fp8(small_layout(KvFormat::fp8_e4m3));
  std::vector<float> out(64);
  for (uint32_t first = 0; first < 65536; first += 64) {
    std::vector<uint16_t> bits(64);
    for (uint32_t i = 0; i < 64; ++i) bits[i] = static_cast<uint16_t>(first + i);
    for (OwnedPool* pool : {&f16, &bf16}) {
      std::memcpy(pool->data.data(), bits.data(), 128);  // row (0, 0, 0)
      kv_read_row(pool->view, 0, 0, 0, out.data());
      for (uint32_t i = 0; i < 64; ++i) {
        const float expected = pool == &f16 ? fp16_bits_to_fp32(bits[i]) : bf16_bits_to_fp32(bits[i]);
        ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(expected)) << std::hex << bits[i];
      }
    }
  }
  for (uint32_t first = 0; first < 256; first += 64) {
    for (uint32_t i = 0; i < 64; ++i) fp8.data[i] = static_cast<uint8_t>(first + i);
    kv_read_row(fp8.view, 0, 0, 0, out.data());
    for (uint32_t i = 0; i < 64; ++i) {
      const float expected = fp8_e4m3_bits_to_fp32(static_cast<uint8_t>(first + i));
      ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(expected)) << first + i;
    }
  }
}

TEST(KvFormat, Fp8UsesThePoolScale) {
  auto rng = test::make_rng(2);
  for (float scale : {1.0f, 0.03125f, 0.37f}) {
    SCOPED_TRACE(scale);
    std::vector<float> x = test::random_normal(64, rng, 2.0f);
    x[0] = 1000.0f * scale;  // beyond 448 * scale: saturates
    x[1] = -1000.0f * scale;
    OwnedPool pool(small_layout(KvFormat::fp8_e4m3), scale);
    const auto y = round_trip(pool, x);
    EXPECT_EQ(y[0], 448.0f * scale);
    EXPECT_EQ(y[1], -448.0f * scale);
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(y[i], fp8_e4m3_bits_to_fp32(fp32_to_fp8_e4m3_bits(x[i] / scale)) * scale) << i;
      // 3 mantissa bits: relative error <= 2^-4 for normals, absolute <= 2^-10 * scale for subnormals.
      if (i >= 2) {
        EXPECT_LE(std::fabs(y[i] - x[i]), std::max(std::fabs(x[i]) / 16, scale / 1024)) << i;
      }
    }
  }
}

// Per element: |x' - x| <= scale / 2, plus what rounding scale and zero to fp16 adds at the ends of the range:
// min(x) may lie below zero (clamped to code 0) and max(x) above zero + qmax * scale (clamped to qmax).
void check_affine_bound(KvFormat format, int qmax, float stddev, uint64_t salt) {
  auto rng = test::make_rng(salt);
  OwnedPool pool(small_layout(format));
  for (int trial = 0; trial < 50; ++trial) {
    const std::vector<float> x = test::random_normal(64, rng, stddev);
    const auto y = round_trip(pool, x);
    const size_t index = pool.view.layout.row_index(1, 1, 2);
    const float scale = fp16_bits_to_fp32(pool.params[index * 2]);
    const float zero = fp16_bits_to_fp32(pool.params[index * 2 + 1]);
    const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
    EXPECT_EQ(zero, round_to_fp16(*lo));
    EXPECT_EQ(scale, round_to_fp16((*hi - *lo) / qmax));
    const double eps = std::max(0.0, double(zero) - *lo) + std::max(0.0, *hi - (double(zero) + qmax * scale)) +
                       1e-6 * (*hi - *lo);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_LE(std::fabs(double(y[i]) - x[i]), scale / 2 + eps) << i;
  }
}

TEST(KvFormat, Int8ErrorWithinHalfAStep) {
  check_affine_bound(KvFormat::int8, 255, 1.0f, 3);
  check_affine_bound(KvFormat::int8, 255, 0.01f, 4);
}

TEST(KvFormat, Int4ErrorWithinHalfAStep) {
  check_affine_bound(KvFormat::int4, 15, 1.0f, 5);
  check_affine_bound(KvFormat::int4, 15, 30.0f, 6);
}

TEST(KvFormat, ConstantRowsAreExact) {
  for (KvFormat f : {KvFormat::int8, KvFormat::int4}) {
    for (float c : {0.0f, 0.375f, -2.5f, 1024.0f}) {
      OwnedPool pool(small_layout(f));
      const auto y = round_trip(pool, std::vector<float>(64, c));
      for (float v : y) EXPECT_EQ(v, c) << kv_format_name(f);
    }
    // A value fp16 cannot hold comes back as its fp16 rounding (the zero point).
    OwnedPool pool(small_layout(f));
    for (float v : round_trip(pool, std::vector<float>(64, 0.1f))) EXPECT_EQ(v, round_to_fp16(0.1f));
  }
}

// Integer rows in [0, qmax] with both ends present quantize with scale 1 and zero 0, so codes equal values:
// this pins down the byte order of the codes, int4's low-nibble-first packing included.
TEST(KvFormat, IntegerCodesAreStoredInOrder) {
  for (KvFormat f : {KvFormat::int8, KvFormat::int4}) {
    const int qmax = f == KvFormat::int8 ? 255 : 15;
    std::vector<float> x(64);
    for (int i = 0; i < 64; ++i) x[i] = static_cast<float>((i * 7) % (qmax + 1));
    x[10] = 0;
    x[11] = static_cast<float>(qmax);
    OwnedPool pool(small_layout(f));
    kv_write_row(pool.view, 2, 0, 3, x.data());
    const size_t index = pool.view.layout.row_index(2, 0, 3);
    const uint8_t* row = pool.data.data() + index * pool.view.layout.row_bytes();
    for (int i = 0; i < 64; ++i) {
      const int code = f == KvFormat::int8 ? row[i] : (row[i / 2] >> (4 * (i % 2))) & 0xF;
      EXPECT_EQ(code, static_cast<int>(x[i])) << kv_format_name(f) << " " << i;
    }
    EXPECT_EQ(pool.params[index * 2], fp32_to_fp16_bits(1.0f));
    EXPECT_EQ(pool.params[index * 2 + 1], fp32_to_fp16_bits(0.0f));
  }
}

// Writing one (block, head, slot) changes only its own data bytes and params, at the offsets the header
// defines; every other byte keeps its poison.
TEST(KvFormat, WritesTouchOnlyTheirRow) {
  auto rng = test::make_rng(7);
  for (KvFormat f : kAllFormats) {
    for (int head_dim : {64, 6}) {
      SCOPED_TRACE(std::string(kv_format_name(f)) + " head_dim " + std::to_string(head_dim));
      const KvPoolLayout layout = small_layout(f, head_dim);
      for (int64_t block = 0; block < layout.n_blocks; ++block) {
        for (int head = 0; head < layout.n_kv_heads; ++head) {
          for (int slot = 0; slot < layout.block_size; ++slot) {
            OwnedPool pool(layout);
            const std::vector<float> x = test::random_normal(head_dim, rng);
            kv_write_row(pool.view, block, head, slot, x.data());
            const size_t index = layout.row_index(block, head, slot);
            ASSERT_EQ(index, static_cast<size_t>((block * 2 + head) * 4 + slot));
            const size_t row_begin = index * layout.row_bytes(), row_end = row_begin + layout.row_bytes();
            bool row_changed = false;
            for (size_t b = 0; b < pool.data.size(); ++b) {
              if (b >= row_begin && b < row_end) {
                row_changed |= pool.data[b] != OwnedPool::kPoison;
              } else {
                ASSERT_EQ(pool.data[b], OwnedPool::kPoison) << "byte " << b;
              }
            }
            EXPECT_TRUE(row_changed);
            for (size_t i = 0; i < pool.params.size(); ++i) {
              if (i / 2 != index) {
                ASSERT_EQ(pool.params[i], 0xA5A5) << "param " << i;
              }
            }
            if (f == KvFormat::f16) {  // the first value sits at the row's first byte
              uint16_t bits;
              std::memcpy(&bits, pool.data.data() + row_begin, 2);
              EXPECT_EQ(bits, fp32_to_fp16_bits(x[0]));
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace mixserve
