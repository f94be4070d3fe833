#pragma once
// RemoteReplica: a Replica whose tensor-parallel ranks are worker processes (started by mpirun) reached over
// the framed TCP channels of comm/. Each execute() encodes the plan once, sends the same bytes to every rank,
// and waits for tensor rank 0's StepResult. The replica is lost, and every later call fails at once with the
// same Status, when any rank's channel is lost (process died: EOF; host or process hung: no heartbeat within
// the peer timeout), when rank 0's answer does not come within step_timeout, or when a rank reports a failure
// other than a rejected plan. The Status names the rank, host and pid, e.g.
//   "replica 1 lost: connection closed by rank 4 (replica 1, tp 1) on node-b, pid 4242".
// Losing the replica closes its channels, which makes its surviving workers exit (worker/worker_main.h).
// Thread-safety: one scheduler thread drives a replica (as for every Replica); describe(), lost_status() and
// last_step_timing() may be called from any thread.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comm/inbox.h"
#include "comm/worker_gather.h"
#include "coordinator/serving/replica.h"

namespace mixserve {

struct RemoteReplicaOptions {
  // Rank 0's StepResult must arrive within this, however alive the heartbeats say it is: a wedged step loop
  // is a lost replica too. Generous, since a long prefill chunk on a CPU can take seconds.
  std::chrono::milliseconds step_timeout{120000};
  std::chrono::milliseconds shutdown_timeout{2000};  // for flushing Shutdown on destruction
};

struct StepTiming {
  int64_t wall_us = 0;     // execute(): plan encoded to result decoded
  int64_t compute_us = 0;  // rank 0's time inside Executor::step
};

// The capacity every rank reported, which must agree; invalid_argument naming the rank that differs.
Result<ReplicaCapacity> replica_capacity(const std::vector<WorkerLink>& links);

class RemoteReplica final : public Replica {
 public:
  // `links`: one replica's ranks ordered by tensor rank. `keepalive` holds what the channels need to outlive
  // them (the IoThread; MPI), released after the channels are closed.
  static Result<std::unique_ptr<RemoteReplica>> create(int index, std::vector<WorkerLink> links,
                                                       const RemoteReplicaOptions& options,
                                                       std::shared_ptr<void> keepalive);
  ~RemoteReplica() override;  // Shutdown to every live rank, then close

  ReplicaCapacity capacity() const override { return capacity_; }
  Result<std::vector<SequenceOutput>> execute(const StepPlan& plan) override;
  Status release(const std::vector<uint64_t>& seq_ids) override;
  std::string describe() const override;

  Status lost_status() const;  // ok while the replica is up
  StepTiming last_step_timing() const;

 private:
  RemoteReplica(int index, std::vector<WorkerLink> links, ReplicaCapacity capacity, const RemoteReplicaOptions& options,
                std::shared_ptr<void> keepalive);
  Status send_to_all(std::shared_ptr<const std::string> frame);
  Result<std::vector<SequenceOutput>> await_result(uint64_t step_id);
  // Handles one event; true with a result once rank 0's answer for step_id is in.
  Result<bool> on_event(const InboxEvent& event, uint64_t step_id, Result<std::vector<SequenceOutput>>* result);
  Status lose(const Status& cause);

  std::shared_ptr<void> keepalive_;  // first member, so it is destroyed last, after the channels
  const int index_;
  std::vector<WorkerLink> links_;
  const ReplicaCapacity capacity_;
  const RemoteReplicaOptions options_;
  std::shared_ptr<Inbox> inbox_;
  uint64_t next_step_id_ = 1;

  mutable std::mutex mutex_;  // guards lost_ and timing_
  Status lost_;
  StepTiming timing_;
};

}  // namespace mixserve
