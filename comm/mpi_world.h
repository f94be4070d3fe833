#pragma once
// MPI as launcher and bootstrap (mpirun): process-wide initialization, host discovery, broadcasting the
// coordinator's address, one communicator per replica, and a finalize that cannot hang the exit.
// Every wait on other ranks is bounded by a deadline (non-blocking collectives polled), so a rank that never
// arrives produces an error instead of a silent hang.
// Thread-safety: call these from the thread that called mpi_init (the main thread), as MPI_THREAD_FUNNELED
// requires. The collectives of a communicator from mpi_split run on that thread too (the worker's step loop).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "core/status.h"

namespace mixserve {

// True when this process was started by mpirun/mpiexec (Open MPI, PMIx or PMI environment variables).
bool launched_by_mpirun();

// MPI_Init_thread (FUNNELED) once per process; later calls return ok. Errors are reported through return
// values, never by MPI aborting the job. Registers mpi_finalize to run at exit.
Status mpi_init(int* argc, char*** argv);
bool mpi_initialized();
int mpi_world_rank();
int mpi_world_size();

using MpiDeadline = std::chrono::steady_clock::time_point;

// Every rank's host name (MPI_Get_processor_name), indexed by world rank. Collective over the world.
Result<std::vector<std::string>> mpi_exchange_hosts(MpiDeadline deadline);
// `value` of `root` on every rank (at most 4 KiB). Collective over the world.
Result<std::string> mpi_broadcast_string(const std::string& value, int root, MpiDeadline deadline);
// MPI_Comm_split of the world: ranks passing the same color >= 0 share a communicator, ordered by key; a rank
// passing a negative color takes part but gets none (nullptr). Collective over the world.
Result<std::unique_ptr<Communicator>> mpi_split(int color, int key);

// MPI_Finalize, once. If it does not return within `limit` (a peer died and the runtime waits for it), logs
// the fact and ends the process with `exit_code_if_stuck`, since nothing is left to do but exit.
void mpi_finalize(std::chrono::milliseconds limit = std::chrono::seconds(10), int exit_code_if_stuck = 0);

}  // namespace mixserve
