#include "worker/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace mixserve {

double NllSum::perplexity() const { return std::exp(mean()); }

double token_nll(std::span<const float> logits, int32_t target) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max);
  return std::log(sum) - (static_cast<double>(logits[target]) - max);
}

std::vector<TokenWindow> plan_windows(int64_t n_tokens, int64_t context, int64_t stride) {
  std::vector<TokenWindow> windows;
  int64_t scored_until = 1;  // token 0 is never scored: nothing precedes it
  for (int64_t begin = 0; scored_until < n_tokens; begin += stride) {
    const int64_t end = std::min(begin + context, n_tokens);
    windows.push_back({.begin = begin, .end = end, .score_begin = std::max(scored_until, begin + 1)});
    scored_until = end;
  }
  return windows;
}

namespace {

// Runs one window as sequence `seq_id` in prefill chunks and sums the NLL of its scored tokens.
Result<NllSum> score_window(Engine& engine, std::span<const int32_t> tokens, const TokenWindow& window,
                            const PerplexityOptions& options) {
  const int64_t n = window.end - window.begin;
  const int64_t vocab = engine.config().vocab_size;
  BlockAllocator allocator(engine.kv_cache().n_blocks());
  const int64_t bs = engine.kv_cache().block_size();
  MIXSERVE_ASSIGN_OR_RETURN(std::vector<int32_t> blocks, allocator.allocate((n + bs - 1) / bs));
  constexpr uint64_t kSeq = 1;
  SequenceStep step{.seq_id = kSeq, .block_table = blocks, .n_prompt_tokens = n, .sample = false,
                    .return_logits = true};
  NllSum sum;
  for (int64_t pos = window.begin; pos < window.end;) {
    const int64_t n_chunk = std::min(options.chunk_tokens, window.end - pos);
    step.tokens.assign(tokens.begin() + pos, tokens.begin() + pos + n_chunk);
    step.start_pos = pos - window.begin;
    auto outputs = engine.executor().step({.sequences = {step}});
    if (!outputs.ok()) {
      engine.executor().release(kSeq);
      return outputs.status();
    }
    const std::vector<float>& logits = (*outputs)[0].logits;  // [n_chunk][vocab]
    // Row i sits at position pos + i and predicts the token at pos + i + 1.
    for (int64_t i = 0; i < n_chunk; ++i) {
      const int64_t target = pos + i + 1;
      if (target < window.score_begin || target >= window.end) continue;
      sum.nll += token_nll(std::span(logits).subspan(i * vocab, vocab), tokens[target]);
      sum.n_scored += 1;
    }
    pos += n_chunk;
  }
  engine.executor().release(kSeq);
  return sum;
}

}  // namespace

Result<NllSum> evaluate_perplexity(Engine& engine, std::span<const int32_t> tokens, const PerplexityOptions& options) {
  const int64_t max_context = engine.config().max_position_embeddings;
  if (options.context < 2 || options.context > max_context)
    return invalid_argument("context " + std::to_string(options.context) + " is outside [2, " +
                            std::to_string(max_context) + "] (the model's max_position_embeddings)");
  if (options.stride < 1 || options.stride > options.context)
    return invalid_argument("stride " + std::to_string(options.stride) + " is outside [1, context]");
  if (options.chunk_tokens < 1) return invalid_argument("chunk_tokens must be positive");
  if (tokens.size() < 2) return invalid_argument("perplexity needs at least 2 tokens");
  NllSum total;
  for (const TokenWindow& window : plan_windows(static_cast<int64_t>(tokens.size()), options.context, options.stride)) {
    MIXSERVE_ASSIGN_OR_RETURN(NllSum part, score_window(engine, tokens, window, options));
    total += part;
  }
  return total;
}

}  // namespace mixserve
