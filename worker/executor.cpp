#include "worker/executor.h"

#include <algorithm>
#include <string>
#include <unordered_set>

namespace mixserve {

Status Executor::validate(const SequenceStep& s) const {
  const auto fail = [&](const std::string& why) {
    return invalid_argument("step plan, sequence " + std::to_string(s.seq_id) + ": " + why);
  };
  const ModelConfig& config = model_.config();
  const int64_t end = s.start_pos + static_cast<int64_t>(s.tokens.size());
  if (s.tokens.empty()) return fail("no tokens");
  if (s.start_pos < 0) return fail("negative start position");
  if (end > config.max_position_embeddings)
    return fail("position " + std::to_string(end - 1) + " beyond max_position_embeddings " +
                std::to_string(config.max_position_embeddings));
  const int64_t blocks_needed = (end + cache_.block_size() - 1) / cache_.block_size();
  if (static_cast<int64_t>(s.block_table.size()) < blocks_needed)
    return fail(std::to_string(s.block_table.size()) + " blocks cover fewer than " + std::to_string(end) + " tokens");
  for (int32_t b : s.block_table)
    if (b < 0 || b >= cache_.n_blocks()) return fail("block id " + std::to_string(b) + " outside the cache");
  for (int32_t t : s.tokens)
    if (t < 0 || t >= config.vocab_size) return fail("token id " + std::to_string(t) + " outside the vocabulary");
  if (!s.prefix_tokens.empty()) {
    if (static_cast<int64_t>(s.prefix_tokens.size()) != s.start_pos)
      return fail(std::to_string(s.prefix_tokens.size()) + " prefix tokens for start position " +
                  std::to_string(s.start_pos));
    for (int32_t t : s.prefix_tokens)
      if (t < 0 || t >= config.vocab_size)
        return fail("prefix token id " + std::to_string(t) + " outside the vocabulary");
  }
  const auto it = histories_.find(s.seq_id);
  const int64_t known = std::max(it == histories_.end() ? int64_t{0} : static_cast<int64_t>(it->second.size()),
                                 static_cast<int64_t>(s.prefix_tokens.size()));
  if (s.start_pos > known)
    return fail("starts at " + std::to_string(s.start_pos) + " but only " + std::to_string(known) +
                " earlier tokens were processed");
  return {};
}

ForwardBatch Executor::build_batch(const StepPlan& plan) const {
  ForwardBatch batch;
  for (const SequenceStep& s : plan.sequences) {
    const int64_t offset = static_cast<int64_t>(batch.token_ids.size());
    const int64_t n_new = static_cast<int64_t>(s.tokens.size());
    batch.sequences.push_back({.n_new = n_new, .start_pos = s.start_pos, .token_offset = offset,
                               .block_table = s.block_table.data()});
    for (int64_t i = 0; i < n_new; ++i) {
      batch.token_ids.push_back(s.tokens[i]);
      batch.positions.push_back(static_cast<int32_t>(s.start_pos + i));
    }
    if (s.return_logits) {
      for (int64_t i = 0; i < n_new; ++i) batch.logit_rows.push_back(offset + i);
    } else if (s.sample) {
      batch.logit_rows.push_back(offset + n_new - 1);
    }
  }
  return batch;
}

Result<std::vector<SequenceOutput>> Executor::step(const StepPlan& plan) {
  std::unordered_set<uint64_t> seen;
  for (const SequenceStep& s : plan.sequences) {
    MIXSERVE_RETURN_IF_ERROR(validate(s));
    if (!seen.insert(s.seq_id).second)
      return invalid_argument("step plan lists sequence " + std::to_string(s.seq_id) + " twice");
  }
  const ForwardBatch batch = build_batch(plan);
  std::vector<float> logits;
  MIXSERVE_RETURN_IF_ERROR(model_.forward(batch, cache_, &logits));
  for (const SequenceStep& s : plan.sequences) {
    auto& history = histories_[s.seq_id];
    if (!s.prefix_tokens.empty()) history = s.prefix_tokens;
    history.resize(s.start_pos);
    history.insert(history.end(), s.tokens.begin(), s.tokens.end());
  }
  return sample_all(plan, logits);
}

std::vector<SequenceOutput> Executor::sample_all(const StepPlan& plan, const std::vector<float>& logits) {
  const int64_t vocab = model_.config().vocab_size;
  std::vector<SequenceOutput> outputs(plan.sequences.size());
  size_t logit_row = 0;  // walks batch.logit_rows in the order build_batch added them
  for (size_t i = 0; i < plan.sequences.size(); ++i) {
    const SequenceStep& s = plan.sequences[i];
    SequenceOutput& out = outputs[i];
    out.seq_id = s.seq_id;
    const int64_t n_rows = s.return_logits ? static_cast<int64_t>(s.tokens.size()) : (s.sample ? 1 : 0);
    const float* rows = logits.data() + logit_row * vocab;
    logit_row += n_rows;
    if (s.return_logits) out.logits.assign(rows, rows + n_rows * vocab);
    if (!s.sample) continue;
    const auto& history = histories_.at(s.seq_id);
    const int64_t n_prompt = std::min<int64_t>(s.n_prompt_tokens, static_cast<int64_t>(history.size()));
    const std::span<const int32_t> all(history);
    out.sample = cpu::sample({.logits = rows + (n_rows - 1) * vocab, .vocab = vocab, .params = &s.sampling,
                              .prompt_tokens = all.first(n_prompt), .output_tokens = all.subspan(n_prompt),
                              .step = static_cast<uint64_t>(history.size() - n_prompt)});
  }
  return outputs;
}

}  // namespace mixserve
