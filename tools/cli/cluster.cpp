#include "tools/cli/cluster.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "comm/io_thread.h"
#include "comm/mpi_world.h"
#include "comm/rank_layout.h"
#include "comm/tcp_connect.h"
#include "comm/worker_gather.h"
#include "core/log.h"
#include "worker/worker_main.h"

namespace mixserve::cli {

namespace {

using Clock = std::chrono::steady_clock;

// What every RemoteReplica keeps alive: the I/O thread all channels run on.
struct ClusterState {
  IoThread io;
};

std::string choose_coordinator_host(const ClusterOptions& options, const std::vector<std::string>& hosts) {
  if (!options.coordinator_host.empty()) return options.coordinator_host;
  if (const char* env = std::getenv("MIXSERVE_COORDINATOR_HOST"); env && *env) return env;
  for (const std::string& host : hosts)
    if (host != hosts[0]) return hosts[0];
  return "127.0.0.1";
}

void warn_without_recovery() {
  // Open MPI ends the whole job when one process dies unless recovery is on; then one lost worker would take
  // the coordinator and every other replica with it.
  if (!std::getenv("OMPI_COMM_WORLD_SIZE")) return;
  const char* recovery = std::getenv("OMPI_MCA_orte_enable_recovery");
  const std::string value = recovery ? recovery : "";
  if (value == "1" || value == "true") return;
  LOG_WARN("cluster",
           "mpirun runs without --enable-recovery: if one worker dies, mpirun ends every rank, the "
           "coordinator and the other replicas included; launch with `mpirun --enable-recovery ...`");
}

int worker_threads(const ClusterOptions& options, const RankLayout& layout, const std::vector<std::string>& hosts) {
  if (options.worker_threads > 0) return options.worker_threads;
  int on_host = 0;
  for (size_t r = 1; r < hosts.size(); ++r) on_host += hosts[r] == layout.host;
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, hardware / std::max(1, on_host));
}

[[noreturn]] void run_worker_process(const ClusterOptions& options, const RankLayout& layout,
                                     const std::vector<std::string>& hosts, const std::string& address,
                                     Communicator& comm) {
  // mpirun forwards SIGTERM/SIGINT to every rank; a worker leaves only when the coordinator says so (Shutdown,
  // after it has drained) or is gone, so in-flight requests can finish.
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  auto host_port = split_host_port(address);
  Status status = host_port.status();
  if (status.ok()) {
    WorkerOptions worker{.model_dir = options.model_dir,
                         .engine = options.engine,
                         .threads = worker_threads(options, layout, hosts),
                         .channel = options.channel,
                         .connect_timeout = options.bootstrap_timeout};
    status = run_worker({.world_rank = layout.world_rank,
                         .replica = layout.replica,
                         .tp_rank = layout.tp_rank,
                         .tp_size = layout.tp,
                         .host = layout.host},
                        host_port->first, host_port->second, comm, worker);
  }
  if (!status.ok())
    LOG_ERROR("worker", "rank " << layout.world_rank << " on " << layout.host << ": " << status.to_string());
  const int code = status.ok() ? 0 : 1;
  std::fflush(nullptr);
  mpi_finalize(std::chrono::seconds(10), code);
  std::_Exit(code);  // no static destructors: the coordinator owns the lifetime of this job
}

Result<std::vector<std::unique_ptr<Replica>>> gather_replicas(const ClusterOptions& options,
                                                              const std::vector<std::string>& hosts,
                                                              std::shared_ptr<ClusterState> state, Listener& listener,
                                                              const std::string& address) {
  GatherOptions gather{.tp = options.tp,
                       .dp = options.dp,
                       .hosts = hosts,
                       .coordinator_address = address,
                       .channel = options.channel,
                       .connect_timeout = options.bootstrap_timeout,
                       .load_timeout = options.load_timeout};
  MIXSERVE_ASSIGN_OR_RETURN(std::vector<WorkerLink> links, gather_workers(listener, gather));
  std::vector<std::unique_ptr<Replica>> replicas;
  for (int r = 0; r < options.dp; ++r) {
    std::vector<WorkerLink> ranks(links.begin() + r * options.tp, links.begin() + (r + 1) * options.tp);
    MIXSERVE_ASSIGN_OR_RETURN(auto replica, RemoteReplica::create(r, std::move(ranks), options.replica, state));
    LOG_INFO("cluster", replica->describe());
    replicas.push_back(std::move(replica));
  }
  return replicas;
}

}  // namespace

bool in_cluster_launch() {
  return launched_by_mpirun();
}

Result<std::vector<std::unique_ptr<Replica>>> start_cluster(const ClusterOptions& options) {
  MIXSERVE_RETURN_IF_ERROR(mpi_init(nullptr, nullptr));
  const auto mpi_deadline = Clock::now() + options.bootstrap_timeout;
  MIXSERVE_ASSIGN_OR_RETURN(std::vector<std::string> hosts, mpi_exchange_hosts(mpi_deadline));
  // Every rank computes the same layout (or the same error), so a bad --tp/--dp stops all of them alike.
  auto layout = make_rank_layout(mpi_world_rank(), mpi_world_size(), options.tp, options.dp, hosts);
  if (!layout.ok()) {
    if (mpi_world_rank() != 0) {
      std::fprintf(stderr, "mixserve worker rank %d: %s\n", mpi_world_rank(), layout.status().to_string().c_str());
      mpi_finalize(std::chrono::seconds(10), 2);
      std::_Exit(2);
    }
    return layout.status();
  }

  std::shared_ptr<ClusterState> state;
  std::unique_ptr<Listener> listener;
  std::string address;
  Status listen_status;
  if (layout->coordinator) {
    warn_without_recovery();
    state = std::make_shared<ClusterState>();
    auto opened = Listener::open(state->io, options.listen_address, options.control_port);
    if (opened.ok()) {
      listener = std::move(*opened);
      address = choose_coordinator_host(options, hosts) + ":" + std::to_string(listener->port());
    } else {
      listen_status = opened.status();  // broadcast an empty address so the workers stop too
    }
  }
  MIXSERVE_ASSIGN_OR_RETURN(address, mpi_broadcast_string(address, 0, mpi_deadline));
  MIXSERVE_ASSIGN_OR_RETURN(auto comm, mpi_split(layout->coordinator ? -1 : layout->replica, layout->tp_rank));

  if (!layout->coordinator) {
    if (address.empty()) {
      LOG_ERROR("worker", "rank " << layout->world_rank << ": the coordinator could not open its control port");
      mpi_finalize(std::chrono::seconds(10), 1);
      std::_Exit(1);
    }
    run_worker_process(options, *layout, hosts, address, *comm);
  }
  MIXSERVE_RETURN_IF_ERROR(listen_status);
  LOG_INFO("cluster", "coordinator on " << hosts[0] << " (pid " << getpid() << "), control address " << address << ", "
                                        << options.tp * options.dp << " workers: tp=" << options.tp
                                        << " dp=" << options.dp);
  return gather_replicas(options, hosts, state, *listener, address);
}

}  // namespace mixserve::cli
