#pragma once
// Engine: one rank's loaded model, KV cache and executor, built from a HF checkpoint directory. This is what a
// worker process (and `mixserve generate`) holds.
#include <cstdint>
#include <memory>
#include <string>

#include "comm/communicator.h"
#include "core/model_config.h"
#include "core/safetensors.h"
#include "core/thread_pool.h"
#include "worker/cpu_backend.h"
#include "worker/executor.h"
#include "worker/kv_cache.h"
#include "worker/llama_model.h"
#include "worker/model_weights.h"

namespace mixserve {

struct EngineOptions {
  WeightOptions weights;
  KvFormat k_format = KvFormat::f16;
  KvFormat v_format = KvFormat::f16;
  int block_size = 64;
  int64_t kv_tokens = 16384;  // cache capacity in tokens, rounded up to whole blocks
  int tp_rank = 0;
  int tp_size = 1;
};

class Engine {
 public:
  // `comm` must outlive the engine and have size() == options.tp_size.
  static Result<std::unique_ptr<Engine>> load(const std::string& model_dir, const EngineOptions& options,
                                              Communicator& comm, ThreadPool& pool);

  const ModelConfig& config() const { return model_->config(); }
  Executor& executor() { return *executor_; }
  KvCache& kv_cache() { return *cache_; }
  LlamaModel& model() { return *model_; }
  // One line for the startup log: formats, weight and cache memory.
  std::string summary() const;

 private:
  Engine() = default;
  EngineOptions options_;
  std::unique_ptr<CpuBackend> backend_;
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<Executor> executor_;
};

// Generates up to max_tokens after `prompt` on one engine with its own block allocation; stops early at one of
// `eos_ids` (which is kept as the last token). Prefill runs in chunks of at most chunk_tokens.
struct GenerateRequest {
  std::vector<int32_t> prompt;
  int64_t max_tokens = 16;
  cpu::SamplingParams sampling;
  std::vector<int64_t> eos_ids;
  int64_t chunk_tokens = 512;
};
Result<std::vector<int32_t>> generate_tokens(Engine& engine, const GenerateRequest& request);

}  // namespace mixserve
