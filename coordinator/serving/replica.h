#pragma once
// A replica as the scheduler sees it: something that executes StepPlans on a tensor-parallel group of workers
// and answers with the sampled tokens. Implementations: InProcessReplica (the worker's Executor in this
// process: `mixserve serve` without mpirun) and RemoteReplica (protobuf over TCP to the worker ranks started by
// mpirun, comm/). The coordinator never touches tensors: plans are token ids, positions and block ids.
// Thread-safety: one scheduler thread drives a replica.
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "worker/step_plan.h"

namespace mixserve {

struct ReplicaCapacity {
  int64_t n_kv_blocks = 0;
  int block_size = 64;
  int64_t max_model_len = 0;  // max_position_embeddings
  int64_t vocab_size = 0;
};

class Replica {
 public:
  virtual ~Replica() = default;
  virtual ReplicaCapacity capacity() const = 0;
  // Runs one step on every rank; rank 0's outputs, in plan order. An error means the replica is lost (a
  // worker died or timed out) or the plan was invalid; the scheduler fails that replica's requests.
  virtual Result<std::vector<SequenceOutput>> execute(const StepPlan& plan) = 0;
  // Tells the workers these sequences are finished or cancelled (their histories can go).
  virtual Status release(const std::vector<uint64_t>& seq_ids) = 0;
  virtual std::string describe() const = 0;  // for logs: "replica 0: ranks 1-2 on host-a"
};

}  // namespace mixserve
