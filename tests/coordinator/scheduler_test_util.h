#pragma once
// Helpers for driving a Scheduler synchronously over a FakeReplica in tests.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "coordinator/scheduler/scheduler.h"
#include "fake_replica.h"
#include "recording_sink.h"

namespace mixserve::test {

inline GenerationRequest make_request(const std::string& id, std::vector<int32_t> prompt, int64_t max_tokens, int n = 1,
                                      uint64_t seed = 0) {
  GenerationRequest r;
  r.request_id = id;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.n = n;
  r.sampling.seed = seed;
  return r;
}

inline std::vector<int32_t> random_prompt(std::mt19937_64& rng, int64_t n, int64_t vocab) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (auto& t : p) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  return p;
}

// Steps until the scheduler has nothing left to run (bounded, so a livelock fails instead of hanging).
inline int run_until_idle(Scheduler& s, int max_steps = 100000) {
  int steps = 0;
  while (steps < max_steps && (s.step() || s.stats().n_live_requests > 0)) ++steps;
  return steps;
}

}  // namespace mixserve::test
