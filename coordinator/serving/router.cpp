#include "coordinator/serving/router.h"

#include <algorithm>

#include "coordinator/scheduler/block_manager.h"

namespace mixserve {

Router::Router(int block_size, size_t max_entries) : block_size_(block_size), max_entries_(max_entries) {}

std::vector<uint64_t> Router::chain(std::span<const int32_t> prompt) const {
  // Blocks that can be cache hits: the last prompt token is always computed again.
  const int64_t n_full = std::min<int64_t>(kMaxBlocks, (static_cast<int64_t>(prompt.size()) - 1) / block_size_);
  std::vector<uint64_t> hashes;
  uint64_t parent = 0;
  for (int64_t i = 0; i < n_full; ++i) {
    parent = hash_block(parent, prompt.subspan(static_cast<size_t>(i * block_size_), static_cast<size_t>(block_size_)));
    hashes.push_back(parent);
  }
  return hashes;
}

int64_t Router::affinity(std::span<const int32_t> prompt, int replica) const {
  const std::vector<uint64_t> hashes = chain(prompt);
  int64_t matched = 0;
  for (size_t i = 0; i < hashes.size(); ++i) {
    const auto it = owner_.find(hashes[i]);
    if (it == owner_.end()) break;
    if (it->second == replica) matched = static_cast<int64_t>(i + 1) * block_size_;
  }
  return matched;
}

int Router::pick(std::span<const int32_t> prompt, std::span<const ReplicaLoad> loads) const {
  int least = -1;
  for (size_t i = 0; i < loads.size(); ++i) {
    if (loads[i].up &&
        (least < 0 || loads[i].outstanding_tokens < loads[static_cast<size_t>(least)].outstanding_tokens))
      least = static_cast<int>(i);
  }
  if (least < 0) return -1;
  // The deepest remembered block names the replica most likely to hold the longest cached prefix.
  const std::vector<uint64_t> hashes = chain(prompt);
  int affine = -1;
  int64_t matched = 0;
  for (size_t i = 0; i < hashes.size(); ++i) {
    const auto it = owner_.find(hashes[i]);
    if (it == owner_.end()) break;
    affine = it->second;
    matched = static_cast<int64_t>(i + 1) * block_size_;
  }
  if (affine < 0 || affine >= static_cast<int>(loads.size()) || !loads[static_cast<size_t>(affine)].up) return least;
  const int64_t extra =
      loads[static_cast<size_t>(affine)].outstanding_tokens - loads[static_cast<size_t>(least)].outstanding_tokens;
  return extra <= matched ? affine : least;
}

void Router::record(std::span<const int32_t> prompt, int replica) {
  for (uint64_t h : chain(prompt)) {
    const auto [it, inserted] = owner_.insert_or_assign(h, replica);
    if (inserted) order_.push_back(h);
  }
  while (owner_.size() > max_entries_) {
    owner_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace mixserve
