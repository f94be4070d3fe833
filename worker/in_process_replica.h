#pragma once
// InProcessReplica: a Replica (coordinator/serving/replica.h) over an Engine in this process, for
// `mixserve serve` without mpirun (TP = 1) and for tests of the serving core on a real model. A step is a
// direct call into the engine's Executor; nothing is serialized.
// Thread-safety: one scheduler thread drives it (as every Replica). The engine is used on that thread only.
#include <memory>
#include <string>

#include "coordinator/serving/replica.h"
#include "worker/engine.h"

namespace mixserve {

class InProcessReplica final : public Replica {
 public:
  // Borrows `engine`, which must outlive the replica (its owner also keeps its communicator and pool).
  explicit InProcessReplica(Engine& engine, std::string description = "replica 0 (in process)");
  // Loads `model_dir` on a one-rank communicator and a pool of n_threads (0: one per core) owned by the
  // replica.
  static Result<std::unique_ptr<InProcessReplica>> load(const std::string& model_dir, const EngineOptions& options,
                                                        int n_threads = 0);
  ~InProcessReplica() override;

  ReplicaCapacity capacity() const override;
  Result<std::vector<SequenceOutput>> execute(const StepPlan& plan) override;
  Status release(const std::vector<uint64_t>& seq_ids) override;
  std::string describe() const override { return description_; }

 private:
  struct Owned;  // communicator, pool and engine when the replica loaded them itself
  std::unique_ptr<Owned> owned_;
  Engine* engine_ = nullptr;
  std::string description_;
};

}  // namespace mixserve
