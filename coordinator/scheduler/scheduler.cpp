// The scheduler's step loop, its inbox (the only state other threads touch) and the admit phase.
#include "coordinator/scheduler/scheduler.h"

#include <algorithm>

#include "core/check.h"
#include "core/log.h"

namespace mixserve {
namespace {

constexpr uint64_t kSharedRoot = 0x6d69787365727665ULL;  // one prefix-cache namespace for all requests

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// What a request may add to the router's load measure: every token it may still compute or generate.
int64_t outstanding_of(const GenerationRequest& r) {
  return static_cast<int64_t>(r.prompt.size()) + static_cast<int64_t>(r.n) * r.max_tokens;
}

}  // namespace

Scheduler::Scheduler(Replica& replica, const SchedulerOptions& options, ReplicaMetrics* metrics, Hooks hooks)
    : replica_(replica),
      options_(options),
      capacity_(replica.capacity()),
      metrics_(metrics),
      hooks_(std::move(hooks)),
      blocks_(capacity_.n_kv_blocks, capacity_.block_size) {
  MIXSERVE_CHECK(options_.max_batch_tokens > 0 && options_.max_running > 0 && options_.max_waiting >= 0);
  publish_stats();
}

Status Scheduler::validate(const GenerationRequest& r) const {
  if (r.prompt.empty()) return invalid_argument("the prompt is empty");
  if (r.n < 1) return invalid_argument("n must be at least 1, got " + std::to_string(r.n));
  if (r.max_tokens < 1) return invalid_argument("max_tokens must be at least 1, got " + std::to_string(r.max_tokens));
  for (int32_t t : r.prompt) {
    if (t < 0 || (capacity_.vocab_size > 0 && t >= capacity_.vocab_size))
      return invalid_argument("token id " + std::to_string(t) + " outside the vocabulary of " +
                              std::to_string(capacity_.vocab_size));
  }
  const cpu::SamplingParams& s = r.sampling;
  if (!(s.temperature >= 0) || !(s.top_p > 0 && s.top_p <= 1) || !(s.min_p >= 0 && s.min_p <= 1) ||
      !(s.repetition_penalty > 0) || s.n_logprobs < 0)
    return invalid_argument("sampling parameters out of range");
  const int64_t n_prompt = static_cast<int64_t>(r.prompt.size());
  if (capacity_.max_model_len > 0 && n_prompt + r.max_tokens > capacity_.max_model_len)
    return out_of_range("prompt (" + std::to_string(n_prompt) + " tokens) + max_tokens (" +
                        std::to_string(r.max_tokens) + ") exceeds the context of " +
                        std::to_string(capacity_.max_model_len) + " tokens");
  // The last generated token is never fed back, so a choice computes at most prompt + max_tokens - 1 tokens.
  const int64_t blocks_needed = blocks_.blocks_for(n_prompt + r.max_tokens - 1);
  if (blocks_needed > blocks_.n_blocks())
    return out_of_range("prompt + max_tokens need " + std::to_string(blocks_needed) + " KV blocks; the replica has " +
                        std::to_string(blocks_.n_blocks()));
  return {};
}

Status Scheduler::submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) {
  MIXSERVE_CHECK(sink != nullptr);
  MIXSERVE_RETURN_IF_ERROR(validate(request));
  auto state = std::make_unique<RequestState>();
  state->outstanding_tokens = outstanding_of(request);
  state->request = std::move(request);
  state->sink = std::move(sink);
  {
    std::lock_guard lock(inbox_mutex_);
    if (!up()) return unavailable(replica_.describe() + " is down");
    const int64_t queued = n_queued_requests_.load(std::memory_order_relaxed);
    if (queued >= options_.max_waiting)
      return Status(StatusCode::resource_exhausted,
                    "the waiting queue is full (" + std::to_string(queued) + " requests); retry later");
    n_queued_requests_.fetch_add(1, std::memory_order_relaxed);
    n_live_requests_.fetch_add(1, std::memory_order_relaxed);
    outstanding_tokens_.fetch_add(state->outstanding_tokens, std::memory_order_relaxed);
    inbox_.requests.push_back(std::move(state));
  }
  inbox_cv_.notify_one();
  return {};
}

void Scheduler::cancel(const std::string& request_id, int choice) {
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.cancels.emplace_back(request_id, choice);
  }
  inbox_cv_.notify_one();
}

SchedulerStats Scheduler::stats() const {
  return {.up = up(),
          .n_running = n_running_.load(std::memory_order_relaxed),
          .n_waiting = n_waiting_.load(std::memory_order_relaxed),
          .n_queued_requests = n_queued_requests_.load(std::memory_order_relaxed),
          .n_live_requests = n_live_requests_.load(std::memory_order_relaxed),
          .outstanding_tokens = outstanding_tokens_.load(std::memory_order_relaxed),
          .n_blocks_used = n_blocks_used_.load(std::memory_order_relaxed),
          .n_blocks = blocks_.n_blocks()};
}

void Scheduler::abort_all_async(Status why) {
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.abort = std::move(why);
  }
  inbox_cv_.notify_one();
}

void Scheduler::wait_for_work(std::chrono::milliseconds timeout) {
  std::unique_lock lock(inbox_mutex_);
  inbox_cv_.wait_for(lock, timeout,
                     [&] { return woken_ || !inbox_.requests.empty() || !inbox_.cancels.empty() || inbox_.abort; });
  woken_ = false;
}

void Scheduler::wake() {
  {
    std::lock_guard lock(inbox_mutex_);
    woken_ = true;
  }
  inbox_cv_.notify_one();
}

bool Scheduler::step() {
  using std::chrono::duration;
  const auto t0 = Clock::now();
  admit();
  if (!up()) return false;
  const auto t1 = Clock::now();
  ++step_index_;
  schedule();
  build_plan();
  const auto t2 = Clock::now();
  if (scheduled_.empty()) {
    if (Status st = release_finished(); !st.ok()) fail_all(st);
    publish_stats();
    return false;
  }
  Result<std::vector<SequenceOutput>> outputs = replica_.execute(plan_);
  const auto t3 = Clock::now();
  Status st = outputs.ok() ? commit(outputs.value()) : outputs.status();
  const auto t4 = Clock::now();
  if (st.ok()) st = release_finished();
  if (!st.ok()) {
    fail_all(st.with_context(replica_.describe() + " lost"));
    return false;
  }
  publish_stats();
  const auto t5 = Clock::now();
  if (metrics_ != nullptr) {
    metrics_->step_admit.observe(seconds(t1 - t0));
    metrics_->step_schedule.observe(seconds(t2 - t1));
    metrics_->step_execute.observe(seconds(t3 - t2));
    metrics_->step_commit.observe(seconds(t4 - t3));
    metrics_->step_release.observe(seconds(t5 - t4));
    int64_t n_tokens = 0;
    for (const Scheduled& s : scheduled_) n_tokens += s.n_tokens;
    metrics_->iteration_tokens.observe(static_cast<double>(n_tokens));
  }
  return true;
}

void Scheduler::admit() {
  Inbox inbox;
  {
    std::lock_guard lock(inbox_mutex_);
    std::swap(inbox, inbox_);
  }
  for (auto& state : inbox.requests) {
    if (!up()) {
      reject(*state, unavailable(replica_.describe() + " is down"));
      continue;
    }
    RequestState& r = *state;
    MIXSERVE_CHECK(!requests_.contains(r.request.request_id));  // the engine core keeps ids unique
    r.order = next_order_++;
    r.hash_root = options_.prefix_caching ? kSharedRoot : hash_block(kSharedRoot ^ (r.order + 1), {});
    // Choices 1.. share choice 0's full prompt blocks; with a prompt of one block or less there is nothing
    // to share, so they start at once.
    r.prompt_shared = blocks_.blocks_for(r.n_prompt()) <= 1;
    r.n_unfinished = r.request.n;
    for (int c = 0; c < r.request.n; ++c) {
      auto seq = std::make_unique<Sequence>();
      seq->id = next_seq_id_++;
      seq->request = &r;
      seq->choice = c;
      seq->sampling = r.request.sampling;
      seq->sampling.seed += static_cast<uint64_t>(c);
      seq->tokens = r.request.prompt;
      seq->tokens.reserve(r.request.prompt.size() + static_cast<size_t>(r.request.max_tokens));
      waiting_.push_back(seq.get());
      r.choices.push_back(std::move(seq));
    }
    requests_.emplace(r.request.request_id, std::move(state));
  }
  if (inbox.abort.has_value()) abort_all(*inbox.abort);
  for (const auto& [id, choice] : inbox.cancels) {
    const auto it = requests_.find(id);
    if (it == requests_.end()) continue;
    for (auto& s : it->second->choices) {
      if (s->state != SequenceState::finished && (choice < 0 || choice == s->choice))
        finish(*s, FinishReason::cancelled, {});
    }
  }
  drop_done_requests();
}

void Scheduler::fail_all(const Status& why) {
  LOG_ERROR("scheduler", replica_.describe()
                             << ": " << why.to_string() << "; failing its " << requests_.size() << " requests");
  {
    std::lock_guard lock(inbox_mutex_);
    up_.store(false, std::memory_order_release);
  }
  if (hooks_.on_down) hooks_.on_down();
  abort_all(why);
  admit();  // requests that raced into the inbox fail too
  publish_stats();
}

void Scheduler::abort_all(const Status& why) {
  for (auto& [id, r] : requests_) {
    for (auto& s : r->choices) {
      if (s->state != SequenceState::finished) finish(*s, FinishReason::error, why);
    }
  }
  drop_done_requests();
  publish_stats();
}

void Scheduler::publish_stats() {
  int64_t n_waiting = static_cast<int64_t>(waiting_.size());
  n_running_.store(static_cast<int64_t>(running_.size()), std::memory_order_relaxed);
  n_waiting_.store(n_waiting, std::memory_order_relaxed);
  n_blocks_used_.store(blocks_.n_used(), std::memory_order_relaxed);
  if (metrics_ != nullptr) {
    metrics_->num_requests_running.set(static_cast<double>(running_.size()));
    metrics_->num_requests_waiting.set(static_cast<double>(n_waiting));
    metrics_->kv_cache_usage_perc.set(static_cast<double>(blocks_.n_used()) / static_cast<double>(blocks_.n_blocks()));
  }
}

}  // namespace mixserve
