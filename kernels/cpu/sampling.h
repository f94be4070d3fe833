#pragma once
// Token sampling from one row of logits, reproducible for a given seed.
// Order (as vLLM): penalties -> temperature -> top-k -> top-p -> min-p -> draw.
//   repetition_penalty r (tokens in prompt or output): logit > 0 ? logit / r : logit * r.
//   presence_penalty a, frequency_penalty f (output tokens, count c): logit -= a * (c > 0) + f * c.
//   temperature 0 (or top_k == 1) is greedy: the highest logit after penalties, lowest id on ties.
//   top_p keeps the smallest set of most likely tokens whose probability reaches top_p.
//   min_p keeps tokens with probability >= min_p * max probability.
// The draw uses a counter-based generator keyed by (seed, step), so a request's tokens do not depend on what
// else is in the batch. Logprobs are the raw model's: log_softmax of the logits before any processing.
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace mixserve::cpu {

struct SamplingParams {
  float temperature = 1.0f;        // >= 0
  int top_k = 0;                   // <= 0: off
  float top_p = 1.0f;              // (0, 1]
  float min_p = 0.0f;              // [0, 1]
  float repetition_penalty = 1.0f; // > 0
  float presence_penalty = 0.0f;   // [-2, 2]
  float frequency_penalty = 0.0f;  // [-2, 2]
  uint64_t seed = 0;
  int n_logprobs = 0;              // top logprobs to return besides the chosen token's
};

struct SampleInput {
  const float* logits = nullptr;  // [vocab]
  int64_t vocab = 0;
  const SamplingParams* params = nullptr;
  std::span<const int32_t> prompt_tokens;
  std::span<const int32_t> output_tokens;  // generated so far
  uint64_t step = 0;                       // index of the token being drawn (output_tokens.size() usually)
};

struct SampleOutput {
  int32_t token = -1;
  float logprob = 0;                                  // raw model logprob of `token`
  std::vector<std::pair<int32_t, float>> top_logprobs;  // n_logprobs best, most likely first
};

SampleOutput sample(const SampleInput& in);

// Uniform double in [0, 1) from (seed, step): splitmix64 of the pair; exposed for tests.
double uniform_from_counter(uint64_t seed, uint64_t step);

}  // namespace mixserve::cpu
