#include "fake_replica.h"

#include <algorithm>
#include <unordered_set>

namespace mixserve::test {

int32_t fake_next_token(std::span<const int32_t> tokens, uint64_t seed, int64_t vocab_size) {
  uint64_t h = 0x243f6a8885a308d3ULL ^ seed;
  for (int32_t t : tokens) {
    h ^= static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
  }
  h ^= h >> 33;
  return static_cast<int32_t>(h % static_cast<uint64_t>(vocab_size));
}

std::vector<int32_t> fake_expected_tokens(std::vector<int32_t> prompt, uint64_t seed, int64_t max_tokens,
                                          int64_t vocab_size, std::span<const int32_t> eos) {
  std::vector<int32_t> out;
  while (static_cast<int64_t>(out.size()) < max_tokens) {
    const int32_t t = fake_next_token(prompt, seed, vocab_size);
    out.push_back(t);
    prompt.push_back(t);
    if (std::find(eos.begin(), eos.end(), t) != eos.end()) break;
  }
  return out;
}

FakeReplica::FakeReplica(FakeReplicaOptions options)
    : options_(std::move(options)), kv_(static_cast<size_t>(options_.n_blocks * options_.block_size), -1) {}

ReplicaCapacity FakeReplica::capacity() const {
  return {.n_kv_blocks = options_.n_blocks,
          .block_size = options_.block_size,
          .max_model_len = options_.max_model_len,
          .vocab_size = options_.vocab_size};
}

Status FakeReplica::validate(const SequenceStep& s) const {
  const auto fail = [&](const std::string& why) {
    return invalid_argument("fake replica, sequence " + std::to_string(s.seq_id) + ": " + why);
  };
  const int64_t end = s.start_pos + static_cast<int64_t>(s.tokens.size());
  if (s.tokens.empty()) return fail("no tokens");
  if (end > options_.max_model_len) return fail("beyond the context");
  if (static_cast<int64_t>(s.block_table.size()) * options_.block_size < end) return fail("block table too short");
  for (int32_t b : s.block_table)
    if (b < 0 || b >= options_.n_blocks) return fail("block id outside the cache");
  if (!s.prefix_tokens.empty() && static_cast<int64_t>(s.prefix_tokens.size()) != s.start_pos)
    return fail("prefix tokens do not cover [0, start_pos)");
  const auto it = histories_.find(s.seq_id);
  const int64_t known = std::max<int64_t>(it == histories_.end() ? 0 : static_cast<int64_t>(it->second.size()),
                                          static_cast<int64_t>(s.prefix_tokens.size()));
  if (s.start_pos > known) return fail("starts after what was processed");
  return {};
}

Result<std::vector<SequenceOutput>> FakeReplica::execute(const StepPlan& plan) {
  std::lock_guard lock(mutex_);
  const int64_t step = static_cast<int64_t>(steps_.size());
  if (options_.fail_at_step >= 0 && step >= options_.fail_at_step)
    return unavailable(options_.name + ": worker rank 1 stopped answering");
  std::unordered_set<uint64_t> seen;
  std::vector<PlannedSequence> summary;
  for (const SequenceStep& s : plan.sequences) {
    MIXSERVE_RETURN_IF_ERROR(validate(s));
    if (!seen.insert(s.seq_id).second) return invalid_argument("sequence twice in a plan");
    summary.push_back({s.seq_id, s.start_pos, static_cast<int64_t>(s.tokens.size()), s.sample, s.prefix_tokens.size(),
                       s.block_table});
  }
  steps_.push_back(std::move(summary));
  const int64_t bs = options_.block_size;
  // Write every sequence's new tokens first (as the model writes K/V before attention reads it).
  for (const SequenceStep& s : plan.sequences) {
    for (size_t i = 0; i < s.tokens.size(); ++i) {
      const int64_t pos = s.start_pos + static_cast<int64_t>(i);
      kv_[static_cast<size_t>(s.block_table[static_cast<size_t>(pos / bs)] * bs + pos % bs)] = s.tokens[i];
    }
    auto& history = histories_[s.seq_id];
    if (!s.prefix_tokens.empty()) history = s.prefix_tokens;
    history.resize(static_cast<size_t>(s.start_pos));
    history.insert(history.end(), s.tokens.begin(), s.tokens.end());
  }
  std::vector<SequenceOutput> outputs(plan.sequences.size());
  for (size_t k = 0; k < plan.sequences.size(); ++k) {
    const SequenceStep& s = plan.sequences[k];
    outputs[k].seq_id = s.seq_id;
    if (!s.sample) continue;
    const int64_t end = s.start_pos + static_cast<int64_t>(s.tokens.size());
    std::vector<int32_t> seen_tokens(static_cast<size_t>(end));
    for (int64_t pos = 0; pos < end; ++pos) {
      seen_tokens[static_cast<size_t>(pos)] =
          kv_[static_cast<size_t>(s.block_table[static_cast<size_t>(pos / bs)] * bs + pos % bs)];
    }
    const int32_t token = fake_next_token(seen_tokens, s.sampling.seed, options_.vocab_size);
    outputs[k].sample = cpu::SampleOutput{.token = token, .logprob = -1.0f, .top_logprobs = {}};
  }
  return outputs;
}

Status FakeReplica::release(const std::vector<uint64_t>& seq_ids) {
  std::lock_guard lock(mutex_);
  for (uint64_t id : seq_ids) histories_.erase(id);
  return {};
}

std::vector<std::vector<FakeReplica::PlannedSequence>> FakeReplica::steps() const {
  std::lock_guard lock(mutex_);
  return steps_;
}

int64_t FakeReplica::n_steps() const {
  std::lock_guard lock(mutex_);
  return static_cast<int64_t>(steps_.size());
}

size_t FakeReplica::n_live_histories() const {
  std::lock_guard lock(mutex_);
  return histories_.size();
}

}  // namespace mixserve::test
