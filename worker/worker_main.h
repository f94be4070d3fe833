#pragma once
// The life of one worker rank under mpirun: connect to the coordinator, say Hello, load this rank's shard of
// the model, report Ready with the KV capacity, then run StepPlans in lockstep with the other ranks of its
// tensor group until Shutdown. Tensor rank 0 answers every plan with a StepResult (sampled tokens, logprobs);
// the other ranks answer only when their step failed.
//
// A worker never outlives its coordinator: when the channel is lost it leaves the loop, and if the loop is
// stuck (inside a collective whose peer died) an orphan watchdog ends the process after a grace period.
// Thread ownership: the calling thread (the process's main thread, which initialized MPI) owns the Engine and
// runs every step and collective; the channel's I/O thread only moves frames and heartbeats.
#include <chrono>
#include <cstdint>
#include <string>

#include "comm/channel.h"
#include "comm/communicator.h"
#include "core/status.h"
#include "worker/engine.h"

namespace mixserve {

struct WorkerIdentity {
  int world_rank = 1;
  int replica = 0;
  int tp_rank = 0;
  int tp_size = 1;
  std::string host;
};

struct WorkerOptions {
  std::string model_dir;
  EngineOptions engine;  // tp_rank and tp_size are taken from the identity
  int threads = 0;       // CPU threads of this rank's pool (0: all hardware threads)
  ChannelOptions channel;
  std::chrono::milliseconds connect_timeout{60000};
  // After the coordinator is gone, how long the step loop may take to notice before the process is ended.
  std::chrono::milliseconds orphan_grace{3000};
};

// ok after a Shutdown; otherwise why the worker stopped (coordinator gone, model failed to load). `comm` is
// this rank's tensor group (size() == identity.tp_size).
Status run_worker(const WorkerIdentity& identity, const std::string& coordinator_host, uint16_t coordinator_port,
                  Communicator& comm, const WorkerOptions& options);

}  // namespace mixserve
