#pragma once
// The scheduler's bookkeeping of requests and their sequences (one sequence per choice). Plain data owned by
// one replica's Scheduler and touched only on its thread.
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "coordinator/serving/request.h"

namespace mixserve {

using Clock = std::chrono::steady_clock;

struct RequestState;

enum class SequenceState { waiting, running, finished };

struct Sequence {
  uint64_t id = 0;
  RequestState* request = nullptr;
  int choice = 0;
  SequenceState state = SequenceState::waiting;
  cpu::SamplingParams sampling;  // the request's, with seed + choice

  std::vector<int32_t> tokens;  // prompt, then generated tokens
  int64_t n_computed = 0;       // leading tokens whose KV is in `blocks`
  std::vector<int32_t> blocks;  // covers at least n_computed tokens
  // The hash chain of the full blocks among the first n_computed tokens (registered or not: a block whose
  // content was cached elsewhere still extends the chain).
  std::vector<uint64_t> block_hashes;
  // The executor has not seen tokens [0, n_computed) under this id yet (prefix-cache hit): the next step
  // sends them as SequenceStep::prefix_tokens.
  bool send_prefix = false;
  uint64_t scheduled_step = 0;  // the last step that scheduled it (steps count from 1)

  bool queued_once = false;         // request_queue_time observed
  Clock::time_point first_token{};  // zero until the first token
  Clock::time_point last_token{};

  int64_t n_prompt() const;
  int64_t n_generated() const { return static_cast<int64_t>(tokens.size()) - n_prompt(); }
  bool prefill_done() const { return n_computed >= static_cast<int64_t>(tokens.size()); }
  // Tokens still to compute before the next sample: 1 for a decode, more while (re)filling.
  int64_t n_uncomputed() const { return static_cast<int64_t>(tokens.size()) - n_computed; }
};

struct RequestState {
  GenerationRequest request;
  std::shared_ptr<RequestSink> sink;
  uint64_t order = 0;      // FCFS rank among this scheduler's requests: lower is older
  uint64_t hash_root = 0;  // prefix-cache chain root: shared by all requests, or private to this one
  std::vector<std::unique_ptr<Sequence>> choices;
  int n_unfinished = 0;
  bool admitted = false;  // one of its choices has run: it no longer counts against max_waiting
  // Choices 1.. wait until choice 0 has computed the prompt's shareable blocks, then start from them.
  bool prompt_shared = false;
  int64_t outstanding_tokens = 0;  // what this request adds to the router's load measure

  int64_t n_prompt() const { return static_cast<int64_t>(request.prompt.size()); }
};

inline int64_t Sequence::n_prompt() const {
  return request->n_prompt();
}

// FCFS priority: older requests first, then lower choice index.
inline bool older(const Sequence& a, const Sequence& b) {
  if (a.request->order != b.request->order) return a.request->order < b.request->order;
  return a.choice < b.choice;
}

}  // namespace mixserve
