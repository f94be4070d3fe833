#include "worker/in_process_replica.h"

#include "comm/communicator.h"
#include "core/thread_pool.h"

namespace mixserve {

struct InProcessReplica::Owned {
  LocalCommunicator comm;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Engine> engine;
};

InProcessReplica::InProcessReplica(Engine& engine, std::string description)
    : engine_(&engine), description_(std::move(description)) {}

InProcessReplica::~InProcessReplica() = default;

Result<std::unique_ptr<InProcessReplica>> InProcessReplica::load(const std::string& model_dir,
                                                                 const EngineOptions& options, int n_threads) {
  auto owned = std::make_unique<Owned>();
  owned->pool = std::make_unique<ThreadPool>(n_threads);
  MIXSERVE_ASSIGN_OR_RETURN(owned->engine, Engine::load(model_dir, options, owned->comm, *owned->pool));
  auto replica = std::make_unique<InProcessReplica>(*owned->engine);
  replica->owned_ = std::move(owned);
  return replica;
}

ReplicaCapacity InProcessReplica::capacity() const {
  return {.n_kv_blocks = engine_->kv_cache().n_blocks(),
          .block_size = engine_->kv_cache().block_size(),
          .max_model_len = engine_->config().max_position_embeddings,
          .vocab_size = engine_->config().vocab_size};
}

Result<std::vector<SequenceOutput>> InProcessReplica::execute(const StepPlan& plan) {
  return engine_->executor().step(plan);
}

Status InProcessReplica::release(const std::vector<uint64_t>& seq_ids) {
  for (uint64_t id : seq_ids) engine_->executor().release(id);
  return {};
}

}  // namespace mixserve
