#pragma once
// FakeReplica: a Replica with no model whose behaviour still depends on the scheduler getting the paging
// right. It keeps a token per KV slot: a step writes each new token into the slot its block table names, and
// a sampled token is a hash of the tokens read back through the block table for every position (plus the
// sampling seed). So a wrong block table, a shared block overwritten, a missed prefix or a stale preemption
// changes the tokens, and fake_expected_tokens() (the same hash over the true sequence) is the oracle.
// It also validates plans the way the worker's Executor does and can be told to fail.
// Thread-safety: execute/release on the scheduler thread; the inspection accessors lock, so tests may read
// them from another thread.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "coordinator/serving/replica.h"

namespace mixserve::test {

struct FakeReplicaOptions {
  int64_t n_blocks = 64;
  int block_size = 4;
  int64_t max_model_len = 4096;
  int64_t vocab_size = 1000;
  int64_t fail_at_step = -1;  // execute() fails from this step on (0-based); -1: never
  std::string name = "fake replica";
};

// The token sampled after `tokens` with `seed`.
int32_t fake_next_token(std::span<const int32_t> tokens, uint64_t seed, int64_t vocab_size);
// What a sequence must generate: max_tokens tokens after `prompt`, stopping after a token in `eos`.
std::vector<int32_t> fake_expected_tokens(std::vector<int32_t> prompt, uint64_t seed, int64_t max_tokens,
                                          int64_t vocab_size, std::span<const int32_t> eos = {});

class FakeReplica final : public Replica {
 public:
  explicit FakeReplica(FakeReplicaOptions options);

  ReplicaCapacity capacity() const override;
  Result<std::vector<SequenceOutput>> execute(const StepPlan& plan) override;
  Status release(const std::vector<uint64_t>& seq_ids) override;
  std::string describe() const override { return options_.name; }

  struct PlannedSequence {
    uint64_t seq_id;
    int64_t start_pos;
    int64_t n_tokens;
    bool sample;
    size_t n_prefix_tokens;
    std::vector<int32_t> block_table;
  };
  std::vector<std::vector<PlannedSequence>> steps() const;  // every executed plan, in order
  int64_t n_steps() const;
  size_t n_live_histories() const;  // sequences seen and not released

 private:
  Status validate(const SequenceStep& s) const;

  const FakeReplicaOptions options_;
  mutable std::mutex mutex_;
  std::vector<int32_t> kv_;  // [n_blocks * block_size]: the token each slot holds, -1 if never written
  std::unordered_map<uint64_t, std::vector<int32_t>> histories_;
  std::vector<std::vector<PlannedSequence>> steps_;
};

}  // namespace mixserve::test
