// The tensor-core layout (WeightLayout::mma_v1): pack -> unpack is byte-exact, the CPU reference reads the
// packed layout to the same values as the row-major one, and a few positions are pinned against the
// mma.sync fragment definition so that a change of the layout cannot pass silently.
#include "kernels/formats/packed_weight.h"

#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/linear.h"
#include "test_support.h"

namespace mixserve {
namespace {

constexpr int64_t kRows[] = {1, 15, 16, 33};
constexpr int64_t kCols[] = {8, 64, 200, 1000};  // ragged: not multiples of 64 or of the int4 group

QuantizedWeight make(WeightFormat f, int64_t n, int64_t k, int group, std::mt19937_64& rng) {
  const auto w = test::random_normal(static_cast<size_t>(n * k), rng);
  return f == WeightFormat::int4 ? quantize_int4(w.data(), n, k, group) : quantize_int8(w.data(), n, k);
}

TEST(PackedWeight, Int4RoundTripAndDequantizeMatch) {
  auto rng = test::make_rng(21);
  for (int group : {32, 64, 128}) {
    for (int64_t n : kRows) {
      for (int64_t k : kCols) {
        const QuantizedWeight w = make(WeightFormat::int4, n, k, group, rng);
        auto packed = pack_for_tensor_cores(w);
        ASSERT_TRUE(packed.ok()) << packed.status().to_string();
        EXPECT_EQ(packed->layout, WeightLayout::mma_v1);
        EXPECT_EQ(packed->data.size(), static_cast<size_t>(packed_n(n) * packed_k(k, group) / 2));
        const QuantizedWeight back = unpack_to_row_major(*packed);
        EXPECT_EQ(back.data, w.data) << "n=" << n << " k=" << k << " G=" << group;
        EXPECT_EQ(dequantize(*packed), dequantize(w)) << "n=" << n << " k=" << k << " G=" << group;
      }
    }
  }
}

TEST(PackedWeight, Int8RoundTripAndDequantizeMatch) {
  auto rng = test::make_rng(22);
  for (int64_t n : kRows) {
    for (int64_t k : kCols) {
      const QuantizedWeight w = make(WeightFormat::int8, n, k, 0, rng);
      auto packed = pack_for_tensor_cores(w);
      ASSERT_TRUE(packed.ok()) << packed.status().to_string();
      EXPECT_EQ(packed->data.size(), static_cast<size_t>(packed_n(n) * packed_k(k, 0)));
      EXPECT_EQ(unpack_to_row_major(*packed).data, w.data) << "n=" << n << " k=" << k;
      EXPECT_EQ(dequantize(*packed), dequantize(w)) << "n=" << n << " k=" << k;
    }
  }
}

// Lane 4g+t, register j, element e holds row g + 8 (j & 1), column 2t + 8 (j >> 1) + e (mma.sync m16n8k16's
// A fragment). Every (row, column) of a tile maps to a distinct nibble/byte.
TEST(PackedWeight, PositionsFollowTheFragmentDefinition) {
  // int4, row 9 (g = 1, j & 1 = 1), column 64 + 16 * 2 + 8 + 3 (chunk 1, step 2, t = 1, e = 1, j >> 1 = 1):
  // j = 3, nibble = 7, lane = 5.
  const PackedPosition p4 = packed_position(WeightFormat::int4, 4, 9, 64 + 32 + 8 + 3);
  EXPECT_EQ(p4.byte, ((0 * 4 + 1) * 32 + 5) * 16 + 4 * 2 + 3);
  EXPECT_EQ(p4.shift, 4);
  const PackedPosition p8 = packed_position(WeightFormat::int8, 4, 16 + 9, 64 + 32 + 8 + 3);
  EXPECT_EQ(p8.byte, (((1 * 4 + 1) * 2 + 1) * 32 + 5) * 16 + 4 * (0 + 1) + 2 + 1);
  for (WeightFormat f : {WeightFormat::int4, WeightFormat::int8}) {
    std::vector<int> seen(16 * 64 * 2, 0);  // (byte, shift) slots of one tile and chunk
    for (int r = 0; r < 16; ++r) {
      for (int c = 0; c < 64; ++c) {
        const PackedPosition p = packed_position(f, 1, r, c);
        ASSERT_LT(p.byte, f == WeightFormat::int4 ? 512 : 1024);
        ++seen[p.byte * 2 + p.shift / 4];
      }
    }
    for (int s : seen) EXPECT_LE(s, 1);
  }
}

// The CPU reference linear op reads the packed layout (through dequantize_rows) to the same outputs.
TEST(PackedWeight, CpuLinearConsumesThePackedLayout) {
  auto rng = test::make_rng(23);
  ThreadPool pool(2);
  for (WeightFormat f : {WeightFormat::int4, WeightFormat::int8}) {
    const QuantizedWeight w = make(f, 37, 200, 64, rng);
    auto packed = pack_for_tensor_cores(w);
    ASSERT_TRUE(packed.ok());
    const int64_t m = 5;
    const auto x = test::random_normal(static_cast<size_t>(m * w.k), rng);
    std::vector<float> y_row(static_cast<size_t>(m * w.n)), y_packed(y_row.size());
    cpu::linear({.x = x.data(), .w = &w, .y = y_row.data(), .m = m}, pool);
    cpu::linear({.x = x.data(), .w = &*packed, .y = y_packed.data(), .m = m}, pool);
    EXPECT_EQ(y_packed, y_row) << weight_format_name(f);
  }
}

TEST(PackedWeight, RejectsUnpackableFormats) {
  std::vector<float> w(64, 1.0f);
  auto dense = pack_for_tensor_cores(make_dense_weight(w.data(), 1, 64, WeightFormat::f16));
  ASSERT_FALSE(dense.ok());
  EXPECT_EQ(dense.status().code(), StatusCode::invalid_argument);
}

}  // namespace
}  // namespace mixserve
