#pragma once
// Turns a StepPlan into one forward pass over a mixed batch (prefill chunks and decode steps) and the next
// tokens. It validates the plan against the cache and the model (a bad plan is an error, never a crash) and
// keeps each live sequence's token history, which penalties need and which a preempted sequence rebuilds by
// being planned again from position 0.
// Thread-safety: one thread (the worker's step loop) uses an Executor.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "worker/kv_cache.h"
#include "worker/llama_model.h"
#include "worker/step_plan.h"

namespace mixserve {

class Executor {
 public:
  Executor(LlamaModel& model, KvCache& cache) : model_(model), cache_(cache) {}

  Result<std::vector<SequenceOutput>> step(const StepPlan& plan);
  // Forgets a finished or cancelled sequence's history (its blocks are the scheduler's to reuse).
  void release(uint64_t seq_id) { histories_.erase(seq_id); }
  size_t n_live_sequences() const { return histories_.size(); }

 private:
  Status validate(const SequenceStep& s) const;
  ForwardBatch build_batch(const StepPlan& plan) const;
  std::vector<SequenceOutput> sample_all(const StepPlan& plan, const std::vector<float>& logits);

  LlamaModel& model_;
  KvCache& cache_;
  std::unordered_map<uint64_t, std::vector<int32_t>> histories_;
};

}  // namespace mixserve
