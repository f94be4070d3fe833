#include "comm/communicator.h"

#include <algorithm>
#include <string>

namespace mixserve {

class InProcessCommunicator final : public Communicator {
 public:
  InProcessCommunicator(std::shared_ptr<InProcessGroup> group, int rank) : group_(std::move(group)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_->size_; }
  Status all_reduce_sum(float* data, size_t n) override { return group_->all_reduce_sum(rank_, data, n); }

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

// Two-phase barrier: every rank deposits its buffer; the last to arrive sums in rank order and writes the
// result back to every buffer; ranks leave only after all have arrived, so buffers stay valid meanwhile.
Status InProcessGroup::all_reduce_sum(int rank, float* data, size_t n) {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return departed_ == 0; });  // the previous collective has fully drained
  if (arrived_ == 0) n_ = n;
  if (n != n_) return internal_error("all_reduce_sum: rank " + std::to_string(rank) + " sent " +
                                     std::to_string(n) + " floats, others " + std::to_string(n_));
  buffers_[rank] = data;
  const unsigned long my_generation = generation_;
  if (++arrived_ == size_) {
    sum_.assign(buffers_[0], buffers_[0] + n);
    for (int r = 1; r < size_; ++r)
      for (size_t i = 0; i < n; ++i) sum_[i] += buffers_[r][i];
    for (int r = 0; r < size_; ++r) std::copy(sum_.begin(), sum_.end(), buffers_[r]);
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
