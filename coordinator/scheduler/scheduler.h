#pragma once
// Scheduler: continuous batching for one replica. Each step is a transaction of short phases:
//   admit     take new requests and cancels from the inbox (cancelled sequences free their blocks here)
//   schedule  under the token budget: running decodes first (oldest first), then running prefills' next
//             chunks, then waiting sequences FCFS (prefix-cache hits first); when blocks run out the newest
//             running sequence is preempted (blocks freed, requeued at the front, later recomputed)
//   execute   the replica runs the StepPlan
//   commit    computed tokens extend each sequence; full blocks enter the prefix cache; sampled tokens go to
//             the sinks; EOS, max_tokens and the context limit finish sequences
//   release   the replica forgets finished sequences
// n > 1: choice 0 prefills the prompt; the other choices wait until it has computed the prompt's full blocks
// (all but the block holding the last prompt token), then start from them as prefix-cache hits (shared,
// refcounted) and each prefills the remaining tail in its own blocks. With prefix caching off the chain root
// is private to the request, so only its own choices (and its own recompute after a preemption) share.
//
// Thread-safety: submit, cancel, stats and up may be called from any thread (they touch the inbox under a
// mutex, or atomics). Everything else, the sinks' callbacks and `on_request_done` run on the thread that
// calls step(): one thread per scheduler.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "coordinator/metrics/serving_metrics.h"
#include "coordinator/scheduler/block_manager.h"
#include "coordinator/scheduler/sequence.h"
#include "coordinator/serving/engine_core.h"
#include "coordinator/serving/replica.h"

namespace mixserve {

struct SchedulerStats {
  bool up = true;
  int64_t n_running = 0;           // sequences in the batch
  int64_t n_waiting = 0;           // sequences waiting (new, gated choices, preempted)
  int64_t n_queued_requests = 0;   // requests not admitted yet: what max_waiting bounds
  int64_t n_live_requests = 0;     // submitted and not finished
  int64_t outstanding_tokens = 0;  // sum over live requests of prompt + n * max_tokens: the router's load
  int64_t n_blocks_used = 0;
  int64_t n_blocks = 0;
};

class Scheduler {
 public:
  // Called on the scheduler thread: after a request's last choice finished, and when the replica is marked
  // down (before its requests are failed).
  struct Hooks {
    std::function<void(const std::string& request_id)> on_request_done;
    std::function<void()> on_down;
  };
  // `metrics` may be null.
  Scheduler(Replica& replica, const SchedulerOptions& options, ReplicaMetrics* metrics, Hooks hooks = {});

  // Any thread. resource_exhausted when max_waiting requests are queued; unavailable once the replica is
  // down; out_of_range / invalid_argument for a request this replica can never run.
  Status submit(GenerationRequest request, std::shared_ptr<RequestSink> sink);
  void cancel(const std::string& request_id, int choice = -1);  // choice -1: every choice
  // Finishes every live request with `why` (reason error) at the next step; the replica keeps serving.
  void abort_all_async(Status why);
  SchedulerStats stats() const;
  bool up() const { return up_.load(std::memory_order_acquire); }
  const ReplicaCapacity& capacity() const { return capacity_; }
  // Checks a request against this replica's limits without queueing it.
  Status validate(const GenerationRequest& request) const;

  // Scheduler thread. Runs one step; false when there was nothing to run (then call wait_for_work).
  bool step();
  // Blocks until the inbox has something or the timeout passes.
  void wait_for_work(std::chrono::milliseconds timeout);
  // Wakes wait_for_work (used to stop the thread).
  void wake();
  // Marks the replica lost: every live request finishes with `why` (reason error), new submits fail.
  void fail_all(const Status& why);
  // As abort_all_async, now.
  void abort_all(const Status& why);

 private:
  struct Scheduled {
    Sequence* seq;
    int64_t n_tokens;
  };
  struct Inbox {
    std::vector<std::unique_ptr<RequestState>> requests;
    std::vector<std::pair<std::string, int>> cancels;
    std::optional<Status> abort;
  };

  // Phases.
  void admit();
  void schedule();
  void build_plan();
  Status commit(std::vector<SequenceOutput>& outputs);
  Status release_finished();

  // schedule() helpers (scheduler_plan.cpp).
  void schedule_decodes(int64_t& budget);
  void schedule_prefills(int64_t& budget);
  void schedule_waiting(int64_t& budget);
  bool reserve(Sequence& s, int64_t n_tokens);
  void match_prefix(Sequence& s);
  void preempt(Sequence& s);
  void add_running(Sequence& s);
  void mark_scheduled(Sequence& s, int64_t n_tokens, int64_t& budget);
  bool gated(const Sequence& s) const;

  // commit() helpers (scheduler_commit.cpp).
  void register_full_blocks(Sequence& s);
  void on_sampled(Sequence& s, cpu::SampleOutput sample, Clock::time_point now);
  void finish(Sequence& s, FinishReason reason, const Status& status);
  void finish_request(RequestState& r);
  void reject(RequestState& r, const Status& why);  // a request that never entered the queues
  void drop_done_requests();
  void publish_stats();

  Replica& replica_;
  const SchedulerOptions options_;
  const ReplicaCapacity capacity_;
  ReplicaMetrics* const metrics_;
  const Hooks hooks_;

  // Shared with other threads.
  mutable std::mutex inbox_mutex_;
  std::condition_variable inbox_cv_;
  Inbox inbox_;
  bool woken_ = false;
  std::atomic<bool> up_{true};
  std::atomic<int64_t> n_queued_requests_{0};
  std::atomic<int64_t> n_live_requests_{0};
  std::atomic<int64_t> outstanding_tokens_{0};
  std::atomic<int64_t> n_running_{0};
  std::atomic<int64_t> n_waiting_{0};
  std::atomic<int64_t> n_blocks_used_{0};

  // Scheduler thread only.
  BlockManager blocks_;
  uint64_t next_order_ = 0;
  uint64_t next_seq_id_ = 1;
  uint64_t step_index_ = 0;
  std::unordered_map<std::string, std::unique_ptr<RequestState>> requests_;
  std::vector<RequestState*> done_requests_;  // finished this phase; dropped at its end
  std::deque<Sequence*> waiting_;             // FCFS; preempted sequences go to the front
  std::vector<Sequence*> running_;            // oldest first (older())
  std::vector<Scheduled> scheduled_;
  StepPlan plan_;
  std::vector<uint64_t> to_release_;
};

}  // namespace mixserve
