#include "worker/engine.h"

#include <algorithm>
#include <sstream>

#include "core/log.h"

namespace mixserve {

Result<std::unique_ptr<Engine>> Engine::load(const std::string& model_dir, const EngineOptions& options,
                                             Communicator& comm, ThreadPool& pool) {
  MIXSERVE_ASSIGN_OR_RETURN(ModelConfig config, load_model_config(model_dir));
  MIXSERVE_ASSIGN_OR_RETURN(TpPlan plan, make_tp_plan(config, options.tp_rank, options.tp_size));
  MIXSERVE_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::open(model_dir));
  if (options.block_size <= 0 || (options.block_size & (options.block_size - 1)) != 0)
    return invalid_argument("KV block size " + std::to_string(options.block_size) + " is not a power of two");
  if (options.kv_tokens <= 0) return invalid_argument("KV cache capacity must be positive");

  std::unique_ptr<Engine> engine(new Engine());
  engine->options_ = options;
  engine->backend_ = std::make_unique<CpuBackend>(pool);
  MIXSERVE_ASSIGN_OR_RETURN(ModelWeights weights,
                            load_model_weights(checkpoint, config, plan, options.weights, *engine->backend_));
  const KvCacheOptions kv{.k_format = options.k_format, .v_format = options.v_format,
                          .block_size = options.block_size,
                          .n_blocks = (options.kv_tokens + options.block_size - 1) / options.block_size};
  engine->cache_ = std::make_unique<KvCache>(kv, config.num_hidden_layers, static_cast<int>(plan.n_kv_heads),
                                             static_cast<int>(plan.head_dim), *engine->backend_);
  engine->model_ = std::make_unique<LlamaModel>(std::move(config), plan, std::move(weights), *engine->backend_, comm);
  engine->executor_ = std::make_unique<Executor>(*engine->model_, *engine->cache_);
  LOG_INFO("engine", engine->summary());
  return engine;
}

std::string Engine::summary() const {
  std::ostringstream os;
  const auto& c = model_->config();
  os << architecture_name(c.architecture) << " layers=" << c.num_hidden_layers << " hidden=" << c.hidden_size
     << " heads=" << c.num_attention_heads << "/" << c.num_key_value_heads << " tp=" << options_.tp_rank << "/"
     << options_.tp_size << " backend=" << backend_->name() << " weights="
     << (options_.weights.linear_format ? weight_format_name(*options_.weights.linear_format) : "checkpoint")
     << " (" << model_->weight_bytes() / (1 << 20) << " MiB) kv=" << kv_format_name(options_.k_format) << "/"
     << kv_format_name(options_.v_format) << " blocks=" << cache_->n_blocks() << "x" << cache_->block_size() << " ("
     << cache_->bytes() / (1 << 20) << " MiB)";
  return os.str();
}

Result<std::vector<int32_t>> generate_tokens(Engine& engine, const GenerateRequest& request) {
  if (request.prompt.empty()) return invalid_argument("the prompt is empty");
  if (request.max_tokens < 1) return invalid_argument("max_tokens must be at least 1");
  const int64_t total = static_cast<int64_t>(request.prompt.size()) + request.max_tokens;
  if (total > engine.config().max_position_embeddings)
    return out_of_range("prompt of " + std::to_string(request.prompt.size()) + " tokens plus " +
                        std::to_string(request.max_tokens) + " new ones exceeds the context of " +
                        std::to_string(engine.config().max_position_embeddings));
  BlockAllocator allocator(engine.kv_cache().n_blocks());
  const int64_t bs = engine.kv_cache().block_size();
  MIXSERVE_ASSIGN_OR_RETURN(std::vector<int32_t> blocks, allocator.allocate((total + bs - 1) / bs));

  constexpr uint64_t kSeq = 1;
  SequenceStep step{.seq_id = kSeq, .block_table = blocks,
                    .n_prompt_tokens = static_cast<int64_t>(request.prompt.size()), .sampling = request.sampling};
  std::vector<int32_t> out;
  const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
  const int64_t chunk = std::max<int64_t>(1, request.chunk_tokens);
  for (int64_t pos = 0; pos < n_prompt + static_cast<int64_t>(out.size());) {
    // Prefill chunks first, then one token per step: the token sampled last.
    if (pos < n_prompt) {
      const int64_t n = std::min(chunk, n_prompt - pos);
      step.tokens.assign(request.prompt.begin() + pos, request.prompt.begin() + pos + n);
      step.sample = pos + n == n_prompt;
    } else {
      step.tokens = {out.back()};
      step.sample = true;
    }
    step.start_pos = pos;
    MIXSERVE_ASSIGN_OR_RETURN(auto outputs, engine.executor().step({.sequences = {step}}));
    pos += static_cast<int64_t>(step.tokens.size());
    if (!outputs[0].sample) continue;
    out.push_back(outputs[0].sample->token);
    const bool eos = std::find(request.eos_ids.begin(), request.eos_ids.end(), out.back()) != request.eos_ids.end();
    if (eos || static_cast<int64_t>(out.size()) >= request.max_tokens) break;
  }
  engine.executor().release(kSeq);
  return out;
}

}  // namespace mixserve
