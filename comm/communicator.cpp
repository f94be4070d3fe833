#include "comm/communicator.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace mixserve {

Status LocalCommunicator::all_gather(const float* send, size_t n, float* recv) {
  if (send != recv) std::memmove(recv, send, n * sizeof(float));
  return {};
}

class InProcessCommunicator final : public Communicator {
 public:
  InProcessCommunicator(std::shared_ptr<InProcessGroup> group, int rank) : group_(std::move(group)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_->size_; }
  Status all_reduce_sum(float* data, size_t n) override {
    return group_->collective(InProcessGroup::Op::all_reduce_sum, rank_, data, data, n);
  }
  Status all_gather(const float* send, size_t n, float* recv) override {
    return group_->collective(InProcessGroup::Op::all_gather, rank_, send, recv, n);
  }

 private:
  std::shared_ptr<InProcessGroup> group_;
  int rank_;
};

std::shared_ptr<InProcessGroup> InProcessGroup::create(int size) {
  return std::shared_ptr<InProcessGroup>(new InProcessGroup(size));
}

std::unique_ptr<Communicator> InProcessGroup::communicator(int rank) {
  return std::make_unique<InProcessCommunicator>(shared_from_this(), rank);
}

void InProcessGroup::combine(Op op, size_t n) {
  if (op == Op::all_reduce_sum) {
    sum_.assign(sends_[0], sends_[0] + n);
    for (int r = 1; r < size_; ++r)
      for (size_t i = 0; i < n; ++i) sum_[i] += sends_[r][i];
    for (int r = 0; r < size_; ++r) std::copy(sum_.begin(), sum_.end(), buffers_[r]);
    return;
  }
  // Gather into a scratch first: a rank's send may alias its own recv slot (in place).
  sum_.resize(n * size_);
  for (int r = 0; r < size_; ++r) std::copy(sends_[r], sends_[r] + n, sum_.begin() + r * n);
  for (int r = 0; r < size_; ++r) std::copy(sum_.begin(), sum_.end(), buffers_[r]);
}

// Two-phase barrier: every rank deposits its buffers; the last to arrive combines them and writes the result
// to every rank's buffer; ranks leave only after all have arrived, so buffers stay valid meanwhile.
Status InProcessGroup::collective(Op op, int rank, const float* send, float* recv, size_t n) {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return departed_ == 0; });  // the previous collective has fully drained
  if (arrived_ == 0) {
    n_ = n;
    op_ = op;
  }
  if (n != n_ || op != op_)
    return internal_error("collective mismatch: rank " + std::to_string(rank) + " called " +
                          (op == Op::all_gather ? "all_gather" : "all_reduce_sum") + " with " + std::to_string(n) +
                          " floats, others " + (op_ == Op::all_gather ? "all_gather" : "all_reduce_sum") + " with " +
                          std::to_string(n_));
  sends_[rank] = send;
  buffers_[rank] = recv;
  const unsigned long my_generation = generation_;
  if (++arrived_ == size_) {
    combine(op, n);
    ++generation_;
    departed_ = size_;
    arrived_ = 0;
    cv_.notify_all();
  } else {
    cv_.wait(lock, [&] { return generation_ != my_generation; });
  }
  if (--departed_ == 0) cv_.notify_all();
  return {};
}

}  // namespace mixserve
