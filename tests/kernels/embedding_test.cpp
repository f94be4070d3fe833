// Embedding gather: rows equal the dequantized table rows in every format; bad ids are errors.
#include "kernels/cpu/embedding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "test_support.h"

namespace mixserve::cpu {
namespace {

TEST(Embedding, GathersDequantizedRowsInEveryFormat) {
  auto rng = test::make_rng(41);
  const int64_t vocab = 53, hidden = 70;
  const auto values = test::random_normal(vocab * hidden, rng);
  const std::vector<QuantizedWeight> tables = {
      make_dense_weight(values.data(), vocab, hidden, WeightFormat::f32),
      make_dense_weight(values.data(), vocab, hidden, WeightFormat::f16),
      make_dense_weight(values.data(), vocab, hidden, WeightFormat::bf16),
      quantize_int8(values.data(), vocab, hidden), quantize_int4(values.data(), vocab, hidden, 32)};
  std::uniform_int_distribution<int32_t> pick(0, vocab - 1);
  std::vector<int32_t> ids = {0, static_cast<int32_t>(vocab - 1), 7, 7};  // both ends and a repeat
  for (int i = 0; i < 13; ++i) ids.push_back(pick(rng));
  const int64_t n_tokens = static_cast<int64_t>(ids.size());
  for (const QuantizedWeight& table : tables) {
    const auto full = dequantize(table);
    std::vector<float> out(n_tokens * hidden, NAN);
    Status st = embedding({.table = &table, .ids = ids.data(), .out = out.data(), .n_tokens = n_tokens});
    ASSERT_TRUE(st.ok()) << st.to_string();
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int64_t c = 0; c < hidden; ++c)
        ASSERT_EQ(out[t * hidden + c], full[ids[t] * hidden + c]) << weight_format_name(table.format) << " t=" << t;
    }
  }
}

TEST(Embedding, OutOfRangeIdIsAnErrorNamingTheId) {
  auto rng = test::make_rng(42);
  const int64_t vocab = 10, hidden = 8;
  const auto values = test::random_normal(vocab * hidden, rng);
  const auto table = make_dense_weight(values.data(), vocab, hidden, WeightFormat::f32);
  for (int32_t bad : {10, -1, 1 << 30}) {
    const std::vector<int32_t> ids = {3, bad, 4};
    std::vector<float> out(3 * hidden, NAN);
    Status st = embedding({.table = &table, .ids = ids.data(), .out = out.data(), .n_tokens = 3});
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), StatusCode::out_of_range);
    EXPECT_NE(st.message().find(std::to_string(bad)), std::string::npos) << st.message();
    for (float v : out) EXPECT_TRUE(std::isnan(v));  // nothing written on error
  }
}

}  // namespace
}  // namespace mixserve::cpu
