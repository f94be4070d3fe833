#pragma once
// What one engine step asks of a worker, and what it answers. The coordinator's protobuf StepPlan/StepResult
// (comm/proto, the serving issue) map one to one onto these structs.
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/cpu/sampling.h"

namespace mixserve {

struct SequenceStep {
  uint64_t seq_id = 0;
  std::vector<int32_t> tokens;       // a prompt chunk, or the last sampled token
  int64_t start_pos = 0;             // position of tokens[0]
  std::vector<int32_t> block_table;  // KV blocks covering positions [0, start_pos + tokens.size())
  int64_t n_prompt_tokens = 0;       // the first n_prompt_tokens of the sequence are prompt (for penalties)
  bool sample = true;                // false for a prefill chunk that is not the prompt's last
  cpu::SamplingParams sampling;
  bool return_logits = false;        // logits of every new token (golden tests, perplexity)
  // Tokens [0, start_pos) when the worker may not have seen them for this seq_id but their KV is already in
  // the block table's blocks (a prefix-cache hit, or a choice of n > 1 sharing its prompt's blocks). The
  // executor takes them as the sequence's history (penalties need it). Empty otherwise.
  std::vector<int32_t> prefix_tokens;
};

struct StepPlan {
  std::vector<SequenceStep> sequences;
};

struct SequenceOutput {
  uint64_t seq_id = 0;
  std::optional<cpu::SampleOutput> sample;
  std::vector<float> logits;  // [tokens.size()][vocab] when return_logits
};

}  // namespace mixserve
