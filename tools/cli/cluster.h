#pragma once
// start_cluster: the multi-process launch, `mpirun -np 1+TP*DP mixserve <command> ... --tp TP --dp DP`.
// Every rank calls it with the same options. World rank 0 (the coordinator) gets one RemoteReplica per DP
// replica, ready to serve; every other rank becomes a worker (worker/worker_main.h) and never returns from
// this call: when its worker loop ends (Shutdown, or the coordinator gone), it finalizes MPI and exits.
//
// Bootstrap: MPI init -> rank layout (world rank 0 coordinator; worker w = rank - 1 in replica w / TP with
// tensor rank w % TP) -> host exchange -> the coordinator opens its control port and broadcasts host:port ->
// MPI_Comm_split per replica (the tensor group's MpiCommunicator) -> workers connect, say Hello, load their
// shard, report Ready. Each stage is bounded; a timeout names the ranks and hosts that did not arrive.
// MPI is finalized at exit (bounded, see comm/mpi_world.h).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "comm/channel.h"
#include "coordinator/serving/remote_replica.h"
#include "coordinator/serving/replica.h"
#include "core/status.h"
#include "worker/engine.h"

namespace mixserve::cli {

struct ClusterOptions {
  std::string model_dir;
  EngineOptions engine;  // formats and KV size for every worker; tp_rank/tp_size are set per rank
  int tp = 1;
  int dp = 1;
  int worker_threads = 0;  // per worker; 0: the host's hardware threads shared among its workers
  // The address workers connect to. Empty: MIXSERVE_COORDINATOR_HOST if set, else 127.0.0.1 when every rank
  // is on one host, else the coordinator's host name as MPI reports it.
  std::string coordinator_host;
  std::string listen_address = "0.0.0.0";
  uint16_t control_port = 0;                           // 0: any free port
  std::chrono::milliseconds bootstrap_timeout{60000};  // MPI exchange, then every worker's connect + Hello
  std::chrono::milliseconds load_timeout{600000};      // every worker's model load, after the last Hello
  ChannelOptions channel;                              // heartbeat interval, peer timeout, frame limit
  RemoteReplicaOptions replica;
};

// True when this process was started by mpirun (the serve command then calls start_cluster).
bool in_cluster_launch();

Result<std::vector<std::unique_ptr<Replica>>> start_cluster(const ClusterOptions& options);

}  // namespace mixserve::cli
