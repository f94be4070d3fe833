// The schedule phase (who runs this step, with how many tokens, in which blocks) and the StepPlan it becomes.
#include <algorithm>

#include "coordinator/scheduler/scheduler.h"
#include "core/check.h"

namespace mixserve {

bool Scheduler::gated(const Sequence& s) const {
  return s.choice > 0 && !s.request->prompt_shared;
}

bool Scheduler::reserve(Sequence& s, int64_t n_tokens) {
  const int64_t need = blocks_.blocks_for(s.n_computed + n_tokens) - static_cast<int64_t>(s.blocks.size());
  return need <= 0 || blocks_.allocate(need, s.blocks);
}

void Scheduler::mark_scheduled(Sequence& s, int64_t n_tokens, int64_t& budget) {
  scheduled_.push_back({&s, n_tokens});
  s.scheduled_step = step_index_;
  budget -= n_tokens;
}

void Scheduler::add_running(Sequence& s) {
  s.state = SequenceState::running;
  running_.insert(std::upper_bound(running_.begin(), running_.end(), &s,
                                   [](const Sequence* a, const Sequence* b) { return older(*a, *b); }),
                  &s);
}

void Scheduler::preempt(Sequence& s) {
  // Recompute later: the blocks go back (full ones stay cached, so the recompute may hit them), and the
  // sequence waits at the front so that it runs again before anything newer.
  blocks_.release(s.blocks);
  s.blocks.clear();
  s.block_hashes.clear();
  s.n_computed = 0;
  s.send_prefix = false;
  running_.erase(std::find(running_.begin(), running_.end(), &s));
  s.state = SequenceState::waiting;
  waiting_.push_front(&s);
  if (metrics_ != nullptr) metrics_->num_preemptions_total.inc();
}

void Scheduler::match_prefix(Sequence& s) {
  // At least the last token is computed again: its logits give the next token.
  const int64_t max_blocks = (static_cast<int64_t>(s.tokens.size()) - 1) / blocks_.block_size();
  const int64_t hits = blocks_.match(s.request->hash_root, s.tokens, max_blocks, s.blocks, s.block_hashes);
  s.n_computed = hits * blocks_.block_size();
  s.send_prefix = s.n_computed > 0;
}

void Scheduler::schedule() {
  scheduled_.clear();
  int64_t budget = options_.max_batch_tokens;
  schedule_decodes(budget);
  schedule_prefills(budget);
  schedule_waiting(budget);
}

// Running sequences with one token to compute, oldest first. A decode that needs a block and finds none
// preempts the newest running sequence, itself included, until it fits.
void Scheduler::schedule_decodes(int64_t& budget) {
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Sequence& s = *running_[i];
    if (s.n_uncomputed() != 1) continue;
    bool self_preempted = false;
    while (!reserve(s, 1)) {
      Sequence& victim = *running_.back();  // newer than s (or s): not scheduled yet in this pass
      preempt(victim);
      if (&victim == &s) {
        self_preempted = true;
        break;
      }
    }
    if (!self_preempted) mark_scheduled(s, 1, budget);
  }
}

// Running sequences in the middle of a (re)fill get their next chunk, oldest first, as large as the budget
// and the free blocks allow. With no block free, newer sequences not scheduled this step are preempted.
void Scheduler::schedule_prefills(int64_t& budget) {
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Sequence& s = *running_[i];
    if (s.n_uncomputed() <= 1 || s.scheduled_step == step_index_) continue;
    int64_t chunk = std::min(s.n_uncomputed(), budget);
    for (;;) {
      const int64_t room =
          (static_cast<int64_t>(s.blocks.size()) + blocks_.n_free()) * blocks_.block_size() - s.n_computed;
      if (room > 0) {
        chunk = std::min(chunk, room);
        break;
      }
      Sequence& victim = *running_.back();
      if (victim.scheduled_step == step_index_) {
        chunk = 0;  // everything newer is decoding this step; they finish or yield blocks later
        break;
      }
      preempt(victim);
      if (&victim == &s) {
        chunk = 0;
        break;
      }
    }
    if (chunk == 0) continue;
    MIXSERVE_CHECK(reserve(s, chunk));
    mark_scheduled(s, chunk, budget);
  }
}

// Waiting sequences in FCFS order (preempted ones sit at the front). The first one that does not fit stops
// admission, so no later request overtakes it. Choices waiting for their prompt to be shared are skipped;
// they keep their place.
void Scheduler::schedule_waiting(int64_t& budget) {
  for (auto it = waiting_.begin(); it != waiting_.end() && budget > 0;) {
    if (static_cast<int64_t>(running_.size()) >= options_.max_running) break;
    Sequence& s = **it;
    if (gated(s)) {
      ++it;
      continue;
    }
    match_prefix(s);
    const int64_t chunk = std::min(s.n_uncomputed(), budget);
    if (!reserve(s, chunk)) {
      blocks_.release(s.blocks);
      s.blocks.clear();
      s.block_hashes.clear();
      s.n_computed = 0;
      s.send_prefix = false;
      break;
    }
    RequestState& r = *s.request;
    if (metrics_ != nullptr) {
      metrics_->prefix_cache_queries_total.inc(static_cast<double>(s.tokens.size()));
      metrics_->prefix_cache_hits_total.inc(static_cast<double>(s.n_computed));
      if (!s.queued_once)
        metrics_->request_queue_time_seconds.observe(
            std::chrono::duration<double>(Clock::now() - r.request.arrival).count());
      if (!r.admitted) metrics_->prompt_tokens_total.inc(static_cast<double>(r.n_prompt()));
    }
    s.queued_once = true;
    if (!r.admitted) {
      r.admitted = true;
      n_queued_requests_.fetch_sub(1, std::memory_order_relaxed);
    }
    it = waiting_.erase(it);
    add_running(s);
    mark_scheduled(s, chunk, budget);
  }
}

void Scheduler::build_plan() {
  plan_.sequences.resize(scheduled_.size());
  for (size_t i = 0; i < scheduled_.size(); ++i) {
    const Sequence& s = *scheduled_[i].seq;
    const int64_t n = scheduled_[i].n_tokens;
    SequenceStep& step = plan_.sequences[i];
    step.seq_id = s.id;
    step.tokens.assign(s.tokens.begin() + s.n_computed, s.tokens.begin() + s.n_computed + n);
    step.start_pos = s.n_computed;
    step.block_table.assign(s.blocks.begin(), s.blocks.end());
    step.n_prompt_tokens = s.n_prompt();
    step.sample = s.n_computed + n == static_cast<int64_t>(s.tokens.size());
    step.sampling = s.sampling;
    step.return_logits = false;
    if (s.send_prefix)
      step.prefix_tokens.assign(s.tokens.begin(), s.tokens.begin() + s.n_computed);
    else
      step.prefix_tokens.clear();
  }
}

}  // namespace mixserve
