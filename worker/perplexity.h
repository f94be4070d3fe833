#pragma once
// Perplexity of a token sequence through an Engine, the quality measure of `mixserve eval`.
//
// The tokens are cut into windows of at most `context` tokens that start every `stride` tokens; each window
// runs as its own sequence from position 0 (prefill chunks that return the logits of every position) and
// scores the tokens that no earlier window scored, never its own first token (nothing in the window predicts
// it). stride == context gives disjoint windows; a smaller stride gives every scored token more context at
// more cost. This is HF's sliding-window perplexity recipe, and tools/train/train_tiny.py computes the same
// windows with HF transformers, so the engine's number and HF's compare directly.
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "worker/engine.h"

namespace mixserve {

// Negative log-likelihood summed over scored tokens. Sums are in double: 10^5 tokens of f32 error would
// otherwise show in the fourth digit of the perplexity.
struct NllSum {
  double nll = 0.0;
  int64_t n_scored = 0;

  double mean() const { return n_scored ? nll / static_cast<double>(n_scored) : 0.0; }
  double perplexity() const;  // exp(mean)
  NllSum& operator+=(const NllSum& other) {
    nll += other.nll;
    n_scored += other.n_scored;
    return *this;
  }
};

// -log softmax(logits)[target], computed in double with the max subtracted.
double token_nll(std::span<const float> logits, int32_t target);

// One window: tokens [begin, end) run as a sequence; tokens [score_begin, end) are scored.
struct TokenWindow {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t score_begin = 0;
};
// The windows covering n_tokens. No token is scored twice; token 0 is never scored, and with stride == context
// neither is the first token of each window. Requires 2 <= context and 1 <= stride <= context.
std::vector<TokenWindow> plan_windows(int64_t n_tokens, int64_t context, int64_t stride);

struct PerplexityOptions {
  int64_t context = 1024;      // window length in tokens; at most the model's max_position_embeddings
  int64_t stride = 1024;       // window start spacing; == context: disjoint windows
  int64_t chunk_tokens = 256;  // prefill chunk; bounds the logits held at once to chunk_tokens x vocab floats
};

// Scores `tokens` on `engine` (which must be idle: the windows take its KV blocks one at a time).
Result<NllSum> evaluate_perplexity(Engine& engine, std::span<const int32_t> tokens, const PerplexityOptions& options);

}  // namespace mixserve
