#pragma once
// The Communicator of a tensor-parallel group over MPI, for the CPU backend (the CUDA backend will use NCCL,
// bootstrapped over the same communicator). All-reduce is MPI_Allreduce; all-gather is MPI_Allgather.
// Thread-safety: one thread (the worker's step loop, which is also the thread that initialized MPI).
// The MPI C++ bindings are deprecated and unused here; skipping them also skips their warnings.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <memory>

#include "comm/communicator.h"

namespace mixserve {

// Takes ownership of `comm` (freed on destruction unless MPI is already finalized) and sets MPI_ERRORS_RETURN
// on it, so a failed peer surfaces as an unavailable Status instead of aborting the job.
std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm);

}  // namespace mixserve
