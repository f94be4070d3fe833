#include "engine_runner.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "test_support.h"

namespace mixserve::test {

std::vector<float> logits_for_sequence(Engine& engine, const std::vector<int32_t>& tokens, int64_t n_prefill,
                                       int64_t chunk, uint64_t seq_id) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t bs = engine.kv_cache().block_size();
  std::vector<int32_t> table;
  for (int64_t b = 0; b < (n + bs - 1) / bs; ++b) table.push_back(static_cast<int32_t>((b * 7 + 3) % engine.kv_cache().n_blocks()));
  std::vector<float> all;
  for (int64_t pos = 0; pos < n;) {
    const int64_t step_n = pos < n_prefill ? std::min(chunk, n_prefill - pos) : 1;
    SequenceStep s{.seq_id = seq_id,
                   .tokens = std::vector<int32_t>(tokens.begin() + pos, tokens.begin() + pos + step_n),
                   .start_pos = pos, .block_table = table, .n_prompt_tokens = n_prefill, .sample = true,
                   .return_logits = true};
    auto out = engine.executor().step({.sequences = {s}});
    EXPECT_TRUE(out.ok()) << out.status().to_string();
    if (!out.ok()) return {};
    all.insert(all.end(), (*out)[0].logits.begin(), (*out)[0].logits.end());
    pos += step_n;
  }
  engine.executor().release(seq_id);
  return all;
}

std::vector<int32_t> some_tokens(int64_t n, int64_t vocab, uint64_t salt) {
  auto rng = make_rng(salt);
  std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> t(n);
  for (auto& x : t) x = dist(rng);
  return t;
}

std::unique_ptr<Engine> load_engine(const std::string& dir, const EngineOptions& options) {
  static LocalCommunicator comm;
  auto engine = Engine::load(dir, options, comm, ThreadPool::global());
  EXPECT_TRUE(engine.ok()) << engine.status().to_string();
  return engine.ok() ? std::move(engine).value() : nullptr;
}

EngineOptions f32_engine_options(int64_t kv_tokens) {
  EngineOptions o;
  o.weights.linear_format = WeightFormat::f32;
  o.k_format = KvFormat::f32;
  o.v_format = KvFormat::f32;
  o.kv_tokens = kv_tokens;
  o.block_size = 16;
  return o;
}

std::vector<float> tensor_parallel_logits(const std::string& dir, const EngineOptions& options, int tp,
                                          const std::vector<int32_t>& tokens) {
  auto group = InProcessGroup::create(tp);
  std::vector<std::vector<float>> logits(tp);
  std::vector<std::thread> ranks;
  std::vector<std::unique_ptr<ThreadPool>> pools;
  for (int r = 0; r < tp; ++r) pools.push_back(std::make_unique<ThreadPool>(1));
  for (int r = 0; r < tp; ++r) {
    ranks.emplace_back([&, r] {
      auto comm = group->communicator(r);
      EngineOptions o = options;
      o.tp_rank = r;
      o.tp_size = tp;
      auto engine = Engine::load(dir, o, *comm, *pools[r]);
      if (!engine.ok()) {
        ADD_FAILURE() << engine.status().to_string();
        std::abort();  // the other ranks would wait forever in the all-reduce
      }
      logits[r] = logits_for_sequence(**engine, tokens, 12, 6);
    });
  }
  for (auto& t : ranks) t.join();
  for (int r = 1; r < tp; ++r) EXPECT_EQ(logits[r], logits[0]) << "rank " << r << " disagrees with rank 0";
  return logits[0];
}

}  // namespace mixserve::test
