#include "worker/worker_main.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "comm/io_thread.h"
#include "comm/step_plan_convert.h"
#include "comm/tcp_connect.h"
#include "core/log.h"
#include "core/thread_pool.h"

namespace mixserve {

namespace {

using Clock = std::chrono::steady_clock;

// Ends the process when the coordinator's channel is lost and the step loop has not returned within the
// grace period: the loop is then blocked in a collective whose peer is gone, and nothing else would free it.
class OrphanWatchdog {
 public:
  OrphanWatchdog(const Channel& channel, std::chrono::milliseconds grace) : channel_(channel), grace_(grace) {
    thread_ = std::thread([this] { watch(); });
  }
  ~OrphanWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return done_; })) {
      if (!channel_.lost()) continue;
      if (cv_.wait_for(lock, grace_, [&] { return done_; })) return;
      LOG_ERROR("worker", "the coordinator is gone (" << channel_.status().message()
                                                      << ") and the step loop is "
                                                         "blocked, likely in a collective with a dead rank; exiting");
      std::_Exit(3);
    }
  }

  const Channel& channel_;
  const std::chrono::milliseconds grace_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

proto::Envelope hello_message(const WorkerIdentity& id) {
  proto::Envelope message;
  proto::Hello* hello = message.mutable_hello();
  hello->set_world_rank(id.world_rank);
  hello->set_replica(id.replica);
  hello->set_tp_rank(id.tp_rank);
  hello->set_tp_size(id.tp_size);
  hello->set_host(id.host);
  hello->set_pid(static_cast<int32_t>(getpid()));
  return message;
}

proto::Envelope ready_message(Engine& engine) {
  proto::Envelope message;
  proto::Ready* ready = message.mutable_ready();
  proto::Capacity* capacity = ready->mutable_capacity();
  capacity->set_n_kv_blocks(engine.kv_cache().n_blocks());
  capacity->set_block_size(engine.kv_cache().block_size());
  capacity->set_max_model_len(engine.config().max_position_embeddings);
  capacity->set_vocab_size(engine.config().vocab_size);
  capacity->set_kv_cache_bytes(static_cast<int64_t>(engine.kv_cache().bytes()));
  capacity->set_weight_bytes(static_cast<int64_t>(engine.model().weight_bytes()));
  ready->set_summary(engine.summary());
  return message;
}

class StepLoop {
 public:
  StepLoop(const WorkerIdentity& id, Channel& channel, Engine& engine) : id_(id), channel_(channel), engine_(engine) {}

  // Serves messages until Shutdown (ok) or the channel is lost (its Status).
  Status run() {
    for (;;) {
      MIXSERVE_ASSIGN_OR_RETURN(auto message, channel_.receive(std::chrono::seconds(1)));
      if (!message) continue;
      switch (message->body_case()) {
        case proto::Envelope::kStepPlan:
          MIXSERVE_RETURN_IF_ERROR(on_plan(message->step_plan()));
          break;
        case proto::Envelope::kRelease:
          for (uint64_t seq_id : message->release().seq_ids()) engine_.executor().release(seq_id);
          break;
        case proto::Envelope::kShutdown:
          LOG_INFO("worker", "rank " << id_.world_rank << ": shutdown (" << message->shutdown().reason() << ")");
          return {};
        default:
          LOG_WARN("worker", "rank " << id_.world_rank << ": ignoring unexpected " << envelope_kind(*message));
      }
    }
  }

 private:
  Status on_plan(const proto::StepPlan& wire) {
    const StepPlan plan = step_plan_from_proto(wire);
    const auto start = Clock::now();
    auto outputs = engine_.executor().step(plan);
    const auto compute_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    if (!outputs.ok())
      LOG_WARN("worker",
               "rank " << id_.world_rank << ": step " << wire.step_id() << " failed: " << outputs.status().to_string());
    if (id_.tp_rank != 0 && outputs.ok()) return {};
    proto::Envelope reply;
    *reply.mutable_step_result() = outputs.ok() ? step_result_to_proto(wire.step_id(), *outputs)
                                                : step_error_to_proto(wire.step_id(), outputs.status());
    reply.mutable_step_result()->set_compute_us(compute_us);
    return channel_.send(reply);
  }

  const WorkerIdentity& id_;
  Channel& channel_;
  Engine& engine_;
};

}  // namespace

Status run_worker(const WorkerIdentity& id, const std::string& coordinator_host, uint16_t coordinator_port,
                  Communicator& comm, const WorkerOptions& options) {
  if (comm.size() != id.tp_size || comm.rank() != id.tp_rank)
    return invalid_argument("rank " + std::to_string(id.world_rank) + ": communicator is rank " +
                            std::to_string(comm.rank()) + " of " + std::to_string(comm.size()) + ", expected " +
                            std::to_string(id.tp_rank) + " of " + std::to_string(id.tp_size));
  IoThread io;
  const std::string coordinator = coordinator_host + ":" + std::to_string(coordinator_port);
  MIXSERVE_ASSIGN_OR_RETURN(
      auto socket, connect_with_retry(io, coordinator_host, coordinator_port, Clock::now() + options.connect_timeout));
  ChannelOptions channel_options = options.channel;
  channel_options.peer_name = "the coordinator at " + coordinator;
  auto channel = Channel::start(std::move(socket), channel_options);
  MIXSERVE_RETURN_IF_ERROR(channel->send(hello_message(id)));

  Status status;
  {
    OrphanWatchdog watchdog(*channel, options.orphan_grace);
    ThreadPool pool(options.threads);
    EngineOptions engine_options = options.engine;
    engine_options.tp_rank = id.tp_rank;
    engine_options.tp_size = id.tp_size;
    auto engine = Engine::load(options.model_dir, engine_options, comm, pool);
    if (!engine.ok()) {
      proto::Envelope ready;
      ready.mutable_ready()->set_error(engine.status().to_string());
      (void)channel->send(ready);
      status = engine.status();
    } else {
      MIXSERVE_RETURN_IF_ERROR(channel->send(ready_message(**engine)));
      status = StepLoop(id, *channel, **engine).run();
    }
  }
  channel->close();
  channel->wait_closed(std::chrono::seconds(2));
  return status;
}

}  // namespace mixserve
