#include "coordinator/scheduler/block_manager.h"

#include <algorithm>

#include "core/check.h"

namespace mixserve {

uint64_t hash_block(uint64_t parent, std::span<const int32_t> tokens) {
  // splitmix64's finalizer over a running state: every token and the parent move all 64 bits.
  const auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  uint64_t h = mix(parent + 0x9e3779b97f4a7c15ULL);
  for (int32_t t : tokens) h = mix(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x9e3779b97f4a7c15ULL));
  return mix(h ^ tokens.size());
}

BlockManager::BlockManager(int64_t n_blocks, int block_size)
    : block_size_(block_size),
      blocks_(static_cast<size_t>(n_blocks)),
      tokens_(static_cast<size_t>(n_blocks) * static_cast<size_t>(block_size)) {
  MIXSERVE_CHECK(n_blocks > 0 && block_size > 0);
  free_.reserve(static_cast<size_t>(n_blocks));
  // Low ids on top of the stack: a fresh replica hands out 0, 1, 2, ... (easier to read in logs and tests).
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

std::span<const int32_t> BlockManager::tokens_of(int32_t b) const {
  return {tokens_.data() + static_cast<size_t>(b) * static_cast<size_t>(block_size_), static_cast<size_t>(block_size_)};
}

void BlockManager::lru_push_back(int32_t b) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  blk.lru_prev = lru_tail_;
  blk.lru_next = -1;
  if (lru_tail_ >= 0)
    blocks_[static_cast<size_t>(lru_tail_)].lru_next = b;
  else
    lru_head_ = b;
  lru_tail_ = b;
  ++n_evictable_;
}

void BlockManager::lru_remove(int32_t b) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  if (blk.lru_prev >= 0)
    blocks_[static_cast<size_t>(blk.lru_prev)].lru_next = blk.lru_next;
  else
    lru_head_ = blk.lru_next;
  if (blk.lru_next >= 0)
    blocks_[static_cast<size_t>(blk.lru_next)].lru_prev = blk.lru_prev;
  else
    lru_tail_ = blk.lru_prev;
  blk.lru_prev = blk.lru_next = -1;
  --n_evictable_;
}

void BlockManager::evict(int32_t b) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  MIXSERVE_CHECK(blk.cached && blk.refcount == 0);
  lru_remove(b);
  cache_.erase(blk.hash);
  blk.cached = false;
}

bool BlockManager::allocate(int64_t n, std::vector<int32_t>& out) {
  if (n > n_free()) return false;
  for (int64_t i = 0; i < n; ++i) {
    int32_t b;
    if (!free_.empty()) {
      b = free_.back();
      free_.pop_back();
    } else {
      b = lru_head_;
      evict(b);
    }
    Block& blk = blocks_[static_cast<size_t>(b)];
    MIXSERVE_CHECK(blk.refcount == 0);
    blk.refcount = 1;
    out.push_back(b);
  }
  return true;
}

void BlockManager::release(std::span<const int32_t> blocks) {
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    const int32_t b = *it;
    Block& blk = blocks_[static_cast<size_t>(b)];
    MIXSERVE_CHECK_LT(0, blk.refcount);
    if (--blk.refcount > 0) continue;
    if (blk.cached)
      lru_push_back(b);
    else
      free_.push_back(b);
  }
}

int64_t BlockManager::match(uint64_t root, std::span<const int32_t> tokens, int64_t max_blocks,
                            std::vector<int32_t>& blocks, std::vector<uint64_t>& hashes) {
  const int64_t n_full = std::min<int64_t>(max_blocks, static_cast<int64_t>(tokens.size()) / block_size_);
  uint64_t parent = root;
  int64_t hits = 0;
  for (; hits < n_full; ++hits) {
    const auto block_tokens = tokens.subspan(static_cast<size_t>(hits * block_size_), static_cast<size_t>(block_size_));
    const uint64_t h = hash_block(parent, block_tokens);
    const auto it = cache_.find(h);
    if (it == cache_.end()) break;
    const int32_t b = it->second;
    Block& blk = blocks_[static_cast<size_t>(b)];
    if (blk.parent != parent || !std::equal(block_tokens.begin(), block_tokens.end(), tokens_of(b).begin())) break;
    if (blk.refcount++ == 0) lru_remove(b);
    blocks.push_back(b);
    hashes.push_back(h);
    parent = h;
  }
  return hits;
}

uint64_t BlockManager::commit_full(int32_t block, uint64_t parent, std::span<const int32_t> tokens) {
  MIXSERVE_CHECK_EQ(static_cast<int64_t>(tokens.size()), static_cast<int64_t>(block_size_));
  Block& blk = blocks_[static_cast<size_t>(block)];
  MIXSERVE_CHECK(blk.refcount > 0 && !blk.cached);
  const uint64_t h = hash_block(parent, tokens);
  if (cache_.contains(h)) return h;  // the same content is cached in another block already
  blk.cached = true;
  blk.hash = h;
  blk.parent = parent;
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + static_cast<ptrdiff_t>(block) * block_size_);
  cache_.emplace(h, block);
  return h;
}

}  // namespace mixserve
