#pragma once
// Collectives among the tensor-parallel ranks of one replica. The model calls all_reduce_sum after its
// row-parallel layers; every rank of a group must make the same calls in the same order (lockstep).
// Implementations: LocalCommunicator (one rank), InProcessGroup (ranks are threads of one process; used by
// tests to prove sharding without MPI), MPI for the CPU backend across processes (comm/mpi_communicator.h), and
// later NCCL (CUDA).
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"

namespace mixserve {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In-place sum of n floats across the group; every rank gets the result.
  virtual Status all_reduce_sum(float* data, size_t n) = 0;
  // Every rank contributes n floats; recv (size() * n floats) gets rank r's at recv + r * n, on every rank.
  // `send` may be recv + rank() * n (in place).
  virtual Status all_gather(const float* send, size_t n, float* recv) = 0;
};

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Status all_reduce_sum(float*, size_t) override { return {}; }
  Status all_gather(const float* send, size_t n, float* recv) override;
};

// Threads of one process acting as ranks. Create one group, then one communicator per rank; each rank's
// thread makes the same collective calls with buffers of the same size. Sums in rank order, so results are
// identical on every rank and deterministic.
class InProcessGroup : public std::enable_shared_from_this<InProcessGroup> {
 public:
  static std::shared_ptr<InProcessGroup> create(int size);
  std::unique_ptr<Communicator> communicator(int rank);

 private:
  friend class InProcessCommunicator;
  explicit InProcessGroup(int size) : size_(size), sends_(size, nullptr), buffers_(size, nullptr) {}
  enum class Op { all_reduce_sum, all_gather };
  // Deposits this rank's buffers; the last rank to arrive runs the operation over all of them.
  Status collective(Op op, int rank, const float* send, float* recv, size_t n);
  void combine(Op op, size_t n);

  int size_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<const float*> sends_;
  std::vector<float*> buffers_;
  Op op_ = Op::all_reduce_sum;
  size_t n_ = 0;
  int arrived_ = 0;
  int departed_ = 0;
  unsigned long generation_ = 0;
  std::vector<float> sum_;
};

}  // namespace mixserve
