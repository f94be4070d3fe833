#include "comm/step_plan_convert.h"

#include <cstring>

namespace mixserve {

proto::SamplingParams sampling_to_proto(const cpu::SamplingParams& p) {
  proto::SamplingParams out;
  out.set_temperature(p.temperature);
  out.set_top_k(p.top_k);
  out.set_top_p(p.top_p);
  out.set_min_p(p.min_p);
  out.set_repetition_penalty(p.repetition_penalty);
  out.set_presence_penalty(p.presence_penalty);
  out.set_frequency_penalty(p.frequency_penalty);
  out.set_seed(p.seed);
  out.set_n_logprobs(p.n_logprobs);
  return out;
}

cpu::SamplingParams sampling_from_proto(const proto::SamplingParams& p) {
  return {.temperature = p.temperature(),
          .top_k = p.top_k(),
          .top_p = p.top_p(),
          .min_p = p.min_p(),
          .repetition_penalty = p.repetition_penalty(),
          .presence_penalty = p.presence_penalty(),
          .frequency_penalty = p.frequency_penalty(),
          .seed = p.seed(),
          .n_logprobs = p.n_logprobs()};
}

proto::StepPlan step_plan_to_proto(const StepPlan& plan, uint64_t step_id) {
  proto::StepPlan out;
  out.set_step_id(step_id);
  out.mutable_sequences()->Reserve(static_cast<int>(plan.sequences.size()));
  for (const SequenceStep& s : plan.sequences) {
    proto::SequenceStep* p = out.add_sequences();
    p->set_seq_id(s.seq_id);
    p->mutable_tokens()->Add(s.tokens.begin(), s.tokens.end());
    p->set_start_pos(s.start_pos);
    p->mutable_block_table()->Add(s.block_table.begin(), s.block_table.end());
    p->set_n_prompt_tokens(s.n_prompt_tokens);
    p->set_sample(s.sample);
    *p->mutable_sampling() = sampling_to_proto(s.sampling);
    p->set_return_logits(s.return_logits);
    p->mutable_prefix_tokens()->Add(s.prefix_tokens.begin(), s.prefix_tokens.end());
  }
  return out;
}

StepPlan step_plan_from_proto(const proto::StepPlan& plan) {
  StepPlan out;
  out.sequences.reserve(plan.sequences_size());
  for (const proto::SequenceStep& p : plan.sequences()) {
    out.sequences.push_back({.seq_id = p.seq_id(),
                             .tokens = {p.tokens().begin(), p.tokens().end()},
                             .start_pos = p.start_pos(),
                             .block_table = {p.block_table().begin(), p.block_table().end()},
                             .n_prompt_tokens = p.n_prompt_tokens(),
                             .sample = p.sample(),
                             .sampling = p.has_sampling() ? sampling_from_proto(p.sampling()) : cpu::SamplingParams{},
                             .return_logits = p.return_logits(),
                             .prefix_tokens = {p.prefix_tokens().begin(), p.prefix_tokens().end()}});
  }
  return out;
}

proto::StepResult step_result_to_proto(uint64_t step_id, const std::vector<SequenceOutput>& outputs) {
  proto::StepResult out;
  out.set_step_id(step_id);
  out.mutable_outputs()->Reserve(static_cast<int>(outputs.size()));
  for (const SequenceOutput& o : outputs) {
    proto::SequenceOutput* p = out.add_outputs();
    p->set_seq_id(o.seq_id);
    if (o.sample) {
      p->mutable_sample()->set_token(o.sample->token);
      p->mutable_sample()->set_logprob(o.sample->logprob);
      for (const auto& [token, logprob] : o.sample->top_logprobs) {
        proto::TokenLogprob* t = p->add_top_logprobs();
        t->set_token(token);
        t->set_logprob(logprob);
      }
    }
    if (!o.logits.empty()) {
      p->mutable_logits()->Resize(static_cast<int>(o.logits.size()), 0.0f);
      std::memcpy(p->mutable_logits()->mutable_data(), o.logits.data(), o.logits.size() * sizeof(float));
    }
  }
  return out;
}

proto::StepResult step_error_to_proto(uint64_t step_id, const Status& error) {
  proto::StepResult out;
  out.set_step_id(step_id);
  out.set_error_code(status_code_name(error.code()));
  out.set_error(error.message());
  return out;
}

Result<std::vector<SequenceOutput>> step_result_from_proto(const proto::StepResult& result) {
  if (!result.error_code().empty()) {
    const StatusCode code = status_code_from_name(result.error_code());
    return Status(code == StatusCode::ok ? StatusCode::internal : code, result.error());
  }
  std::vector<SequenceOutput> out;
  out.reserve(result.outputs_size());
  for (const proto::SequenceOutput& p : result.outputs()) {
    SequenceOutput o{.seq_id = p.seq_id()};
    if (p.has_sample()) {
      cpu::SampleOutput sample{.token = p.sample().token(), .logprob = p.sample().logprob()};
      sample.top_logprobs.reserve(p.top_logprobs_size());
      for (const proto::TokenLogprob& t : p.top_logprobs()) sample.top_logprobs.emplace_back(t.token(), t.logprob());
      o.sample = std::move(sample);
    }
    o.logits.assign(p.logits().begin(), p.logits().end());
    out.push_back(std::move(o));
  }
  return out;
}

StatusCode status_code_from_name(const std::string& name) {
  // Walks the enum through status_code_name so a code added to core/status.h decodes without an edit here.
  for (int i = 0; i < 64; ++i) {
    const auto code = static_cast<StatusCode>(i);
    const char* candidate = status_code_name(code);
    if (name == candidate) return code;
    if (std::strcmp(candidate, "unknown") == 0) break;
  }
  return StatusCode::internal;
}

}  // namespace mixserve
