#pragma once
// Drives an Engine through plans the way a scheduler would, for tests: prefill in chunks with logits of every
// token, then teacher-forced decode steps.
#include <cstdint>
#include <vector>

#include "worker/engine.h"

namespace mixserve::test {

// Logits [tokens.size()][vocab] for every position of `tokens`: the first n_prefill in chunks of `chunk`,
// the rest one token per step (decode through the paged cache). The sequence is released afterwards.
std::vector<float> logits_for_sequence(Engine& engine, const std::vector<int32_t>& tokens, int64_t n_prefill,
                                       int64_t chunk, uint64_t seq_id = 1);

// Deterministic pseudo-random token ids in [0, vocab).
std::vector<int32_t> some_tokens(int64_t n, int64_t vocab, uint64_t salt);

// Ranks 0..tp-1 as threads sharing an in-process all-reduce, each loading `dir` with options (tp_rank/tp_size
// set per rank) and running logits_for_sequence(tokens, 12, 6); every rank must agree. Rank 0's logits.
std::vector<float> tensor_parallel_logits(const std::string& dir, const EngineOptions& options, int tp,
                                          const std::vector<int32_t>& tokens);

// The exact reference setup: f32 linear weights and f32 K/V, blocks of 16 tokens, kv_tokens of cache.
EngineOptions f32_engine_options(int64_t kv_tokens);

// Loads `dir` with options, on a LocalCommunicator; fails the test on error.
std::unique_ptr<Engine> load_engine(const std::string& dir, const EngineOptions& options);

}  // namespace mixserve::test
