#pragma once
// A generation request after HTTP parsing and validation (token ids, not text), and the sink its results go
// to. Detokenization, stop strings and the OpenAI response shapes are the HTTP layer's; EOS, max_tokens and
// the context limit are the scheduler's.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "kernels/cpu/sampling.h"

namespace mixserve {

struct GenerationRequest {
  std::string request_id;
  std::vector<int32_t> prompt;
  int n = 1;                          // choices; they share the prompt's KV blocks
  int64_t max_tokens = 16;            // per choice
  cpu::SamplingParams sampling;       // choice i uses seed + i
  std::vector<int32_t> eos_ids;       // empty when ignore_eos
  std::chrono::steady_clock::time_point arrival = std::chrono::steady_clock::now();
};

enum class FinishReason { stop, length, cancelled, error };
const char* finish_reason_name(FinishReason reason);  // "stop", "length", "cancelled", "error"

struct TokenOutput {
  int32_t token = -1;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top_logprobs;
};

// Receives a request's results. Called on the scheduler's thread: implementations only hand the data over
// (e.g. post it to the connection's executor) and return at once; they never block or call back into the
// scheduler synchronously.
class RequestSink {
 public:
  virtual ~RequestSink() = default;
  virtual void on_tokens(int choice, std::vector<TokenOutput> tokens) = 0;
  // Exactly once per choice. `status` is ok unless reason == error (then it says why: replica lost, ...).
  virtual void on_finished(int choice, FinishReason reason, Status status) = 0;
};

}  // namespace mixserve
