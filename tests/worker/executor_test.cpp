// A bad step plan is an error naming the sequence and the problem; the executor keeps working afterwards.
#include <gtest/gtest.h>

#include "engine_runner.h"
#include "synth_model.h"

namespace mixserve {
namespace {

class ExecutorPlans : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineOptions o;
    o.kv_tokens = 256;
    o.block_size = 16;
    engine_ = test::load_engine(test::synth_model_dir("tiny", 7), o);
    ASSERT_TRUE(engine_);
  }
  Status run(const SequenceStep& s) { return engine_->executor().step({.sequences = {s}}).status(); }
  void expect_rejected(const SequenceStep& s, const std::string& fragment) {
    const Status st = run(s);
    EXPECT_EQ(st.code(), StatusCode::invalid_argument) << st.to_string();
    EXPECT_NE(st.message().find(fragment), std::string::npos) << st.message();
  }
  std::unique_ptr<Engine> engine_;
};

TEST_F(ExecutorPlans, RejectsMalformedSteps) {
  expect_rejected({.seq_id = 3, .tokens = {}, .block_table = {0}}, "no tokens");
  expect_rejected({.seq_id = 3, .tokens = std::vector<int32_t>(17, 1), .block_table = {0}}, "blocks cover");
  expect_rejected({.seq_id = 3, .tokens = {1}, .block_table = {16}}, "block id 16");
  expect_rejected({.seq_id = 3, .tokens = {1}, .block_table = {-1}}, "block id -1");
  expect_rejected({.seq_id = 3, .tokens = {200000}, .block_table = {0}}, "outside the vocabulary");
  expect_rejected({.seq_id = 3, .tokens = {1}, .start_pos = 5, .block_table = {0}}, "earlier tokens");
  expect_rejected({.seq_id = 3, .tokens = {1}, .start_pos = 4096, .block_table = std::vector<int32_t>(257, 0)},
                  "max_position_embeddings");
  SequenceStep ok{.seq_id = 4, .tokens = {1, 2}, .block_table = {0}};
  auto dup = engine_->executor().step({.sequences = {ok, ok}});
  EXPECT_EQ(dup.status().code(), StatusCode::invalid_argument);
  // Still serving.
  EXPECT_TRUE(run(ok).ok());
  EXPECT_TRUE(run({.seq_id = 4, .tokens = {3}, .start_pos = 2, .block_table = {0}}).ok());
  engine_->executor().release(4);
  EXPECT_EQ(engine_->executor().n_live_sequences(), 0u);
}

TEST_F(ExecutorPlans, NonFinalPrefillChunksDoNotSample) {
  auto out = engine_->executor().step(
      {.sequences = {{.seq_id = 9, .tokens = {5, 6, 7}, .block_table = {1}, .n_prompt_tokens = 6, .sample = false}}});
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE((*out)[0].sample.has_value());
  auto last = engine_->executor().step(
      {.sequences = {{.seq_id = 9, .tokens = {8, 9, 10}, .start_pos = 3, .block_table = {1}, .n_prompt_tokens = 6}}});
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE((*last)[0].sample.has_value());
  EXPECT_GE((*last)[0].sample->token, 0);
  EXPECT_LT((*last)[0].sample->token, engine_->config().vocab_size);
}

}  // namespace
}  // namespace mixserve
