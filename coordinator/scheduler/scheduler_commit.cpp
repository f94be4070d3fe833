// The commit and release phases: a step's results extend the sequences, reach the sinks and finish
// sequences; finished requests leave the scheduler.
#include <algorithm>

#include "coordinator/scheduler/scheduler.h"
#include "core/check.h"

namespace mixserve {
namespace {

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

Status Scheduler::commit(std::vector<SequenceOutput>& outputs) {
  if (outputs.size() != scheduled_.size())
    return internal_error("the replica answered " + std::to_string(outputs.size()) + " outputs for " +
                          std::to_string(scheduled_.size()) + " sequences");
  const auto now = Clock::now();
  const int64_t bs = blocks_.block_size();
  for (size_t i = 0; i < scheduled_.size(); ++i) {
    Sequence& s = *scheduled_[i].seq;
    SequenceOutput& out = outputs[i];
    if (out.seq_id != s.id)
      return internal_error("output " + std::to_string(i) + " is for sequence " + std::to_string(out.seq_id) +
                            ", the plan had " + std::to_string(s.id));
    s.n_computed += scheduled_[i].n_tokens;
    s.send_prefix = false;
    register_full_blocks(s);
    RequestState& r = *s.request;
    if (s.choice == 0 && !r.prompt_shared && s.n_computed >= (r.n_prompt() - 1) / bs * bs) r.prompt_shared = true;
    if (!s.prefill_done()) continue;
    if (!out.sample.has_value()) return internal_error("no token sampled for sequence " + std::to_string(s.id));
    on_sampled(s, std::move(*out.sample), now);
  }
  drop_done_requests();
  return {};
}

void Scheduler::register_full_blocks(Sequence& s) {
  const int64_t bs = blocks_.block_size();
  const size_t n_full = static_cast<size_t>(s.n_computed / bs);
  const std::span<const int32_t> tokens(s.tokens);
  while (s.block_hashes.size() < n_full) {
    const size_t i = s.block_hashes.size();
    const uint64_t parent = i == 0 ? s.request->hash_root : s.block_hashes[i - 1];
    s.block_hashes.push_back(
        blocks_.commit_full(s.blocks[i], parent, tokens.subspan(i * static_cast<size_t>(bs), static_cast<size_t>(bs))));
  }
}

void Scheduler::on_sampled(Sequence& s, cpu::SampleOutput sample, Clock::time_point now) {
  RequestState& r = *s.request;
  s.tokens.push_back(sample.token);
  if (metrics_ != nullptr) {
    metrics_->generation_tokens_total.inc();
    if (s.n_generated() == 1)
      metrics_->time_to_first_token_seconds.observe(seconds(now - r.request.arrival));
    else
      metrics_->inter_token_latency_seconds.observe(seconds(now - s.last_token));
  }
  if (s.n_generated() == 1) s.first_token = now;
  s.last_token = now;
  std::vector<TokenOutput> tokens(1);
  tokens[0] = {.token = sample.token, .logprob = sample.logprob, .top_logprobs = std::move(sample.top_logprobs)};
  r.sink->on_tokens(s.choice, std::move(tokens));

  const auto& eos = r.request.eos_ids;
  if (std::find(eos.begin(), eos.end(), sample.token) != eos.end()) {
    finish(s, FinishReason::stop, {});
  } else if (s.n_generated() >= r.request.max_tokens ||
             (capacity_.max_model_len > 0 && static_cast<int64_t>(s.tokens.size()) >= capacity_.max_model_len)) {
    finish(s, FinishReason::length, {});
  }
}

void Scheduler::finish(Sequence& s, FinishReason reason, const Status& status) {
  if (s.state == SequenceState::finished) return;
  if (s.state == SequenceState::running) running_.erase(std::find(running_.begin(), running_.end(), &s));
  if (s.state == SequenceState::waiting) waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &s));
  blocks_.release(s.blocks);
  s.blocks.clear();
  s.block_hashes.clear();
  s.n_computed = 0;
  s.state = SequenceState::finished;
  if (s.scheduled_step > 0) to_release_.push_back(s.id);  // the replica has seen it

  RequestState& r = *s.request;
  if (metrics_ != nullptr) {
    metrics_->success(reason).inc();
    if (reason == FinishReason::stop || reason == FinishReason::length) {
      const auto now = Clock::now();
      const double e2e = seconds(now - r.request.arrival);
      metrics_->e2e_request_latency_seconds.observe(e2e);
      metrics_->request_generation_tokens.observe(static_cast<double>(s.n_generated()));
      if (s.n_generated() > 1)
        metrics_->request_time_per_output_token_seconds.observe(seconds(s.last_token - s.first_token) /
                                                                static_cast<double>(s.n_generated() - 1));
    }
  }
  if (s.choice == 0) r.prompt_shared = true;  // the others no longer wait for it
  // The request's accounting closes before its sink hears the last finish, so a client that reacts at once
  // (resubmits the same id, reads the counts) sees it gone.
  if (--r.n_unfinished == 0) finish_request(r);
  r.sink->on_finished(s.choice, reason, status);
}

void Scheduler::finish_request(RequestState& r) {
  if (!r.admitted) {
    r.admitted = true;
    n_queued_requests_.fetch_sub(1, std::memory_order_relaxed);
  }
  n_live_requests_.fetch_sub(1, std::memory_order_relaxed);
  outstanding_tokens_.fetch_sub(r.outstanding_tokens, std::memory_order_relaxed);
  if (metrics_ != nullptr) metrics_->request_prompt_tokens.observe(static_cast<double>(r.n_prompt()));
  done_requests_.push_back(&r);  // destroyed at the end of the phase: its sequences may still be listed
  if (hooks_.on_request_done) hooks_.on_request_done(r.request.request_id);
}

void Scheduler::reject(RequestState& r, const Status& why) {
  for (int c = 0; c < r.request.n; ++c) {
    if (metrics_ != nullptr) metrics_->success_error.inc();
    r.sink->on_finished(c, FinishReason::error, why);
  }
  n_queued_requests_.fetch_sub(1, std::memory_order_relaxed);
  n_live_requests_.fetch_sub(1, std::memory_order_relaxed);
  outstanding_tokens_.fetch_sub(r.outstanding_tokens, std::memory_order_relaxed);
  if (hooks_.on_request_done) hooks_.on_request_done(r.request.request_id);
}

void Scheduler::drop_done_requests() {
  for (RequestState* r : done_requests_) {
    const auto it = requests_.find(r->request.request_id);
    if (it != requests_.end() && it->second.get() == r) requests_.erase(it);  // destroys r and its sequences
  }
  done_requests_.clear();
}

Status Scheduler::release_finished() {
  if (to_release_.empty()) return {};
  Status st = replica_.release(to_release_);
  to_release_.clear();
  return st;
}

}  // namespace mixserve
