// StepPlan / StepResult structs <-> protobuf: every field survives the wire, absent fields mean the struct's
// defaults, and a worker's error Status comes back with its code and message.
#include <gtest/gtest.h>

#include "comm/step_plan_convert.h"
#include "comm_test_util.h"
#include "test_support.h"

namespace mixserve {
namespace {

void expect_same_sampling(const cpu::SamplingParams& a, const cpu::SamplingParams& b) {
  EXPECT_EQ(a.temperature, b.temperature);
  EXPECT_EQ(a.top_k, b.top_k);
  EXPECT_EQ(a.top_p, b.top_p);
  EXPECT_EQ(a.min_p, b.min_p);
  EXPECT_EQ(a.repetition_penalty, b.repetition_penalty);
  EXPECT_EQ(a.presence_penalty, b.presence_penalty);
  EXPECT_EQ(a.frequency_penalty, b.frequency_penalty);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.n_logprobs, b.n_logprobs);
}

TEST(StepPlanConvert, RandomPlansSurviveTheWire) {
  auto rng = test::make_rng(11);
  for (int trial = 0; trial < 50; ++trial) {
    const StepPlan plan = test::random_plan(rng, 16, 600);
    const uint64_t step_id = rng();
    proto::StepPlan parsed;
    ASSERT_TRUE(parsed.ParseFromString(step_plan_to_proto(plan, step_id).SerializeAsString()));
    EXPECT_EQ(parsed.step_id(), step_id);
    const StepPlan back = step_plan_from_proto(parsed);
    ASSERT_EQ(back.sequences.size(), plan.sequences.size());
    for (size_t i = 0; i < plan.sequences.size(); ++i) {
      const SequenceStep& a = plan.sequences[i];
      const SequenceStep& b = back.sequences[i];
      EXPECT_EQ(a.seq_id, b.seq_id);
      EXPECT_EQ(a.tokens, b.tokens);
      EXPECT_EQ(a.start_pos, b.start_pos);
      EXPECT_EQ(a.block_table, b.block_table);
      EXPECT_EQ(a.n_prompt_tokens, b.n_prompt_tokens);
      EXPECT_EQ(a.sample, b.sample);
      EXPECT_EQ(a.return_logits, b.return_logits);
      EXPECT_EQ(a.prefix_tokens, b.prefix_tokens);
      expect_same_sampling(a.sampling, b.sampling);
    }
  }
}

TEST(StepPlanConvert, AbsentSamplingMeansTheStructDefaults) {
  proto::StepPlan wire;
  wire.add_sequences()->set_seq_id(3);
  const StepPlan plan = step_plan_from_proto(wire);
  ASSERT_EQ(plan.sequences.size(), 1u);
  expect_same_sampling(plan.sequences[0].sampling, cpu::SamplingParams{});
  EXPECT_EQ(plan.sequences[0].sampling.temperature, 1.0f);  // not proto3's 0, which would mean greedy
}

TEST(StepPlanConvert, OutputsSurviveTheWire) {
  auto rng = test::make_rng(12);
  std::vector<SequenceOutput> outputs;
  for (int i = 0; i < 20; ++i) {
    SequenceOutput o{.seq_id = rng()};
    if (i % 3 != 0) {
      cpu::SampleOutput s{.token = static_cast<int32_t>(rng() % 150000),
                          .logprob = -static_cast<float>(rng() % 1000) / 7};
      for (int k = static_cast<int>(rng() % 6); k > 0; --k)
        s.top_logprobs.emplace_back(static_cast<int32_t>(rng() % 150000), -static_cast<float>(rng() % 1000) / 3);
      o.sample = s;
    }
    if (i % 4 == 0) o.logits = test::random_normal(1 + rng() % 3000, rng);
    outputs.push_back(std::move(o));
  }
  proto::StepResult wire;
  ASSERT_TRUE(wire.ParseFromString(step_result_to_proto(99, outputs).SerializeAsString()));
  EXPECT_EQ(wire.step_id(), 99u);
  auto back = step_result_from_proto(wire);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  ASSERT_EQ(back->size(), outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const SequenceOutput& a = outputs[i];
    const SequenceOutput& b = (*back)[i];
    EXPECT_EQ(a.seq_id, b.seq_id);
    ASSERT_EQ(a.sample.has_value(), b.sample.has_value()) << i;
    if (a.sample) {
      EXPECT_EQ(a.sample->token, b.sample->token);
      EXPECT_EQ(a.sample->logprob, b.sample->logprob);
      EXPECT_EQ(a.sample->top_logprobs, b.sample->top_logprobs);
    }
    EXPECT_EQ(a.logits, b.logits);
  }
}

TEST(StepPlanConvert, ErrorsKeepTheirCodeAndMessage) {
  for (const Status& error :
       {invalid_argument("token 9999999 outside the vocabulary"), out_of_range("position 5000 beyond the context"),
        unavailable("MPI_Allreduce failed"), internal_error("bug")}) {
    auto back = step_result_from_proto(step_error_to_proto(5, error));
    ASSERT_FALSE(back.ok());
    EXPECT_EQ(back.status().code(), error.code());
    EXPECT_EQ(back.status().message(), error.message());
  }
  proto::StepResult odd;
  odd.set_error_code("no_such_code");
  odd.set_error("x");
  EXPECT_EQ(step_result_from_proto(odd).status().code(), StatusCode::internal);
  odd.set_error_code("ok");  // an error that claims success must not become an ok Status
  EXPECT_EQ(step_result_from_proto(odd).status().code(), StatusCode::internal);
}

}  // namespace
}  // namespace mixserve
