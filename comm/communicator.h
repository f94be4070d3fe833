#pragma once
// Collectives among the tensor-parallel ranks of one replica. The model calls all_reduce_sum after its
// row-parallel layers; every rank of a group must make the same calls in the same order (lockstep).
// Implementations: LocalCommunicator (one rank), InProcessGroup (ranks are threads of one process; used by
// tests to prove sharding without MPI), and later MPI (CPU) and NCCL (CUDA).
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
};

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Status all_reduce_sum(float*, size_t) override { return {}; }
};

// Threads of one process acting as ranks. Create one group, then one communicator per rank; each rank's
// thread calls all_reduce_sum with buffers of the same size. Sums in rank order, so results are identical on
// every rank and deterministic.
class InProcessGroup : public std::enable_shared_from_this<InProcessGroup> {
 public:
  static std::shared_ptr<InProcessGroup> create(int size);
  std::unique_ptr<Communicator> communicator(int rank);

 private:
  friend class InProcessCommunicator;
  explicit InProcessGroup(int size) : size_(size), buffers_(size, nullptr) {}
  Status all_reduce_sum(int rank, float* data, size_t n);

  int size_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<float*> buffers_;
  size_t n_ = 0;
  int arrived_ = 0;
  int departed_ = 0;
  unsigned long generation_ = 0;
  std::vector<float> sum_;
};

}  // namespace mixserve
