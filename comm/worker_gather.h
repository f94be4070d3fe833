#pragma once
// The coordinator's side of bootstrap over TCP: accept one connection per worker rank, learn who each is from
// its Hello, then wait for every Ready (model loaded, capacity known). Every wait is bounded, and an error
// names the ranks and hosts that are missing or failed, e.g.
//   "rank 3 (replica 1, tp 0) on node-b did not connect to the coordinator at 10.0.0.1:41234 within 60000 ms".
// Thread-safety: one thread (the coordinator's main thread at startup).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "comm/channel.h"
#include "comm/proto/mixserve.pb.h"
#include "comm/tcp_connect.h"
#include "core/status.h"

namespace mixserve {

struct WorkerLink {
  int world_rank = 0;
  int replica = 0;
  int tp_rank = 0;
  std::string host;
  int pid = 0;
  std::shared_ptr<Channel> channel;  // events go to a bootstrap inbox until the owner redirects them
  proto::Capacity capacity;
  std::string summary;  // the worker's engine summary
};

struct GatherOptions {
  int tp = 1;
  int dp = 1;
  std::vector<std::string> hosts;   // by world rank, from the MPI host exchange
  std::string coordinator_address;  // host:port the workers were told, for error messages
  ChannelOptions channel;
  std::chrono::milliseconds connect_timeout{60000};  // from the start of gathering to the last Hello
  std::chrono::milliseconds load_timeout{600000};    // from the last Hello to the last Ready
};

// The links of all 1..tp*dp worker ranks, ordered by world rank. On error every accepted channel is closed
// (the workers then exit) and the Status lists what is missing.
Result<std::vector<WorkerLink>> gather_workers(Listener& listener, const GatherOptions& options);

// "rank 3 (replica 1, tp 0) on node-b, pid 4242": a worker's name in every log line and error.
std::string worker_peer_name(int world_rank, int tp, const std::string& host, int pid);

}  // namespace mixserve
