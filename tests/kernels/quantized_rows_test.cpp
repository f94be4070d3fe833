// Slicing and concatenating quantized weights (kernels/formats/quantized_rows.h) against slicing the
// dequantized matrix: the results must be equal value for value, for int8, fp8 and int4 (groups 32 and 128,
// k not a multiple of the group), and misaligned int4 column slices and bad ranges are errors.
#include "kernels/formats/quantized_rows.h"

#include <gtest/gtest.h>

#include <vector>

#include "test_support.h"

namespace mixserve {
namespace {

struct Made {
  QuantizedWeight w;
  std::vector<float> deq;  // [n][k]
};

Made make(WeightFormat format, int group, int64_t n, int64_t k, std::mt19937_64& rng) {
  const auto f = test::random_normal(static_cast<size_t>(n * k), rng, 0.1f);
  QuantizedWeight w = format == WeightFormat::int4   ? quantize_int4(f.data(), n, k, group)
                      : format == WeightFormat::int8 ? quantize_int8(f.data(), n, k)
                                                     : quantize_fp8(f.data(), n, k);
  std::vector<float> deq = dequantize(w);
  return {std::move(w), std::move(deq)};
}

std::vector<float> sub(const std::vector<float>& m, int64_t k, int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
  std::vector<float> out;
  for (int64_t r = r0; r < r0 + nr; ++r)
    out.insert(out.end(), m.begin() + r * k + c0, m.begin() + r * k + c0 + nc);
  return out;
}

TEST(QuantizedRows, SlicesAndConcatenationAreExact) {
  auto rng = test::make_rng(71);
  struct Case {
    WeightFormat format;
    int group;
    int64_t k, col_begin, col_count;
  };
  const Case cases[] = {{WeightFormat::int8, 0, 300, 17, 101},  {WeightFormat::fp8_e4m3, 0, 300, 0, 299},
                        {WeightFormat::int4, 32, 300, 64, 96},  {WeightFormat::int4, 32, 300, 256, 44},
                        {WeightFormat::int4, 128, 384, 128, 256}};
  for (const Case& c : cases) {
    const int64_t n = 37;
    const Made a = make(c.format, c.group, n, c.k, rng), b = make(c.format, c.group, 11, c.k, rng);
    const std::string what = std::string(weight_format_name(c.format)) + " g" + std::to_string(c.group);

    auto rows = quantized_rows(a.w, 5, 20);
    ASSERT_TRUE(rows.ok()) << rows.status().to_string();
    EXPECT_EQ(dequantize(*rows), sub(a.deq, c.k, 5, 20, 0, c.k)) << what;

    auto cols = quantized_cols(a.w, c.col_begin, c.col_count);
    ASSERT_TRUE(cols.ok()) << what << ": " << cols.status().to_string();
    EXPECT_EQ(cols->k, c.col_count);
    EXPECT_EQ(dequantize(*cols), sub(a.deq, c.k, 0, n, c.col_begin, c.col_count)) << what;

    auto both = concat_quantized_rows({&*rows, &b.w});
    ASSERT_TRUE(both.ok()) << both.status().to_string();
    EXPECT_EQ(both->n, 31);
    std::vector<float> expected = sub(a.deq, c.k, 5, 20, 0, c.k);
    expected.insert(expected.end(), b.deq.begin(), b.deq.end());
    EXPECT_EQ(dequantize(*both), expected) << what;
  }
}

TEST(QuantizedRows, RefusesWhatWouldSplitAGroupOrLeaveTheMatrix) {
  auto rng = test::make_rng(72);
  const Made a = make(WeightFormat::int4, 32, 8, 128, rng);
  auto mid_group = quantized_cols(a.w, 16, 64);
  ASSERT_FALSE(mid_group.ok());
  EXPECT_NE(mid_group.status().message().find("whole groups of 32"), std::string::npos);
  EXPECT_FALSE(quantized_cols(a.w, 32, 48).ok());  // ends inside a group, not at k
  EXPECT_FALSE(quantized_rows(a.w, 4, 5).ok());
  EXPECT_FALSE(quantized_cols(a.w, 0, 129).ok());
  const Made other = make(WeightFormat::int4, 64, 8, 128, rng);
  EXPECT_FALSE(concat_quantized_rows({&a.w, &other.w}).ok());  // different group sizes
  QuantizedWeight broken = a.w;
  broken.scales.pop_back();
  EXPECT_FALSE(quantized_rows(broken, 0, 1).ok());
  const QuantizedWeight dense = make_dense_weight(std::vector<float>(16, 1.0f).data(), 4, 4, WeightFormat::f16);
  EXPECT_FALSE(quantized_rows(dense, 0, 1).ok());
}

}  // namespace
}  // namespace mixserve
