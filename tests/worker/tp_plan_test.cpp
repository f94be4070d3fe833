// Tensor-parallel sharding as pure functions: every rank's ranges tile the full tensors exactly.
#include <gtest/gtest.h>

#include <numeric>

#include "worker/tp_plan.h"

namespace mixserve {
namespace {

ModelConfig shape(int64_t hq, int64_t hkv, int64_t inter) {
  ModelConfig c;
  c.hidden_size = 64;
  c.num_attention_heads = hq;
  c.num_key_value_heads = hkv;
  c.head_dim = 16;
  c.intermediate_size = inter;
  return c;
}

TEST(TpPlan, RanksTileHeadsAndIntermediateForTp124) {
  for (int tp : {1, 2, 4}) {
    const ModelConfig c = shape(32, 8, 14336);
    int64_t next_q = 0, next_kv = 0, next_inter = 0;
    for (int r = 0; r < tp; ++r) {
      auto plan = make_tp_plan(c, r, tp);
      ASSERT_TRUE(plan.ok()) << plan.status().to_string();
      EXPECT_EQ(plan->q_head_begin, next_q);
      EXPECT_EQ(plan->kv_head_begin, next_kv);
      EXPECT_EQ(plan->inter_begin, next_inter);
      EXPECT_EQ(plan->n_q_heads, 32 / tp);
      EXPECT_EQ(plan->n_kv_heads, 8 / tp);
      // Each rank's q heads use only its own KV heads (GQA groups never straddle ranks).
      EXPECT_EQ(plan->q_head_begin / c.group_size(), plan->kv_head_begin);
      next_q += plan->n_q_heads;
      next_kv += plan->n_kv_heads;
      next_inter += plan->n_inter;
    }
    EXPECT_EQ(next_q, 32);
    EXPECT_EQ(next_kv, 8);
    EXPECT_EQ(next_inter, 14336);
  }
}

TEST(TpPlan, ReplicatesKvHeadsWhenRanksOutnumberThem) {
  const ModelConfig c = shape(4, 2, 384);  // the tiny preset's heads at TP=4
  for (int r = 0; r < 4; ++r) {
    auto plan = make_tp_plan(c, r, 4);
    ASSERT_TRUE(plan.ok());
    EXPECT_EQ(plan->n_kv_heads, 1);
    EXPECT_EQ(plan->kv_head_begin, r / 2);
    EXPECT_EQ(plan->q_head_begin, r);
    EXPECT_EQ(plan->q_head_begin / c.group_size(), plan->kv_head_begin);
  }
}

TEST(TpPlan, RejectsUnevenSplits) {
  EXPECT_FALSE(make_tp_plan(shape(6, 2, 384), 0, 4).ok());   // 6 q heads over 4 ranks
  EXPECT_FALSE(make_tp_plan(shape(12, 3, 384), 0, 2).ok());  // 3 KV heads over 2 ranks
  EXPECT_FALSE(make_tp_plan(shape(8, 8, 100), 0, 8).ok());   // intermediate 100 over 8
  EXPECT_FALSE(make_tp_plan(shape(8, 8, 128), 2, 2).ok());   // rank out of range
  auto bad = make_tp_plan(shape(6, 2, 384), 0, 4);
  EXPECT_NE(bad.status().message().find("attention heads"), std::string::npos) << bad.status().message();
}

TEST(TpPlan, RowAndColumnSlicesReassembleTheMatrix) {
  const int64_t rows = 12, cols = 8;
  std::vector<float> m(rows * cols);
  std::iota(m.begin(), m.end(), 0.0f);
  for (int tp : {1, 2, 4}) {
    std::vector<float> by_rows, by_cols_t;
    std::vector<std::vector<float>> col_parts;
    for (int r = 0; r < tp; ++r) {
      auto part = slice_rows(m, cols, r * rows / tp, rows / tp);
      by_rows.insert(by_rows.end(), part.begin(), part.end());
      col_parts.push_back(slice_cols(m, cols, r * cols / tp, cols / tp));
    }
    EXPECT_EQ(by_rows, m);
    for (int64_t i = 0; i < rows; ++i)
      for (int r = 0; r < tp; ++r)
        for (int64_t j = 0; j < cols / tp; ++j)
          ASSERT_EQ(col_parts[r][i * (cols / tp) + j], m[i * cols + r * cols / tp + j]);
  }
  const std::vector<float> a = {1, 2}, b = {3, 4, 5, 6};
  EXPECT_EQ(concat_rows({&a, &b}), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

}  // namespace
}  // namespace mixserve
