#pragma once
// BlockManager: one replica's paged KV blocks as the scheduler sees them (ids, reference counts, a prefix
// cache), never their memory, which lives in the workers.
//
// Prefix cache: a full block (block_size tokens whose KV is written) is named by a hash chain,
// h_i = hash_block(h_{i-1}, tokens of block i) with h_{-1} = the chain's root. A registered block stays in the
// cache after its last reference goes; such unreferenced cached blocks count as free and are evicted least
// recently released first when fresh blocks are needed. A sequence releases its blocks tail first, so a
// chain's later blocks go before its earlier (more shareable) ones. Lookups verify the tokens and the parent
// hash of every hit, so a 64-bit hash collision costs a miss, never wrong KV.
//
// Thread-safety: none; the replica's scheduler thread owns it.
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace mixserve {

// The chain hash of a block holding `tokens` after the chain `parent`.
uint64_t hash_block(uint64_t parent, std::span<const int32_t> tokens);

class BlockManager {
 public:
  BlockManager(int64_t n_blocks, int block_size);

  int block_size() const { return block_size_; }
  int64_t n_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  // Blocks an allocation can take now: never used or released, plus cached blocks nobody references.
  int64_t n_free() const { return static_cast<int64_t>(free_.size()) + n_evictable_; }
  // Blocks referenced by at least one sequence.
  int64_t n_used() const { return n_blocks() - n_free(); }
  int64_t n_cached() const { return static_cast<int64_t>(cache_.size()); }
  int32_t refcount(int32_t block) const { return blocks_[static_cast<size_t>(block)].refcount; }
  // Blocks needed to hold n_tokens.
  int64_t blocks_for(int64_t n_tokens) const { return (n_tokens + block_size_ - 1) / block_size_; }

  // Appends n fresh blocks (reference count 1) to `out`, evicting cached blocks as needed. False, and nothing
  // taken, when fewer than n are free.
  bool allocate(int64_t n, std::vector<int32_t>& out);
  // Drops one reference on each block, last block first.
  void release(std::span<const int32_t> blocks);
  // Walks the chain from `root` over the full blocks of `tokens`, at most max_blocks of them, and stops at the
  // first miss. Each hit gains a reference and is appended to `blocks`, its hash to `hashes`. Returns hits.
  int64_t match(uint64_t root, std::span<const int32_t> tokens, int64_t max_blocks, std::vector<int32_t>& blocks,
                std::vector<uint64_t>& hashes);
  // Registers `block`, whose KV now holds `tokens` (block_size of them) after the chain `parent`, and returns
  // its hash. When an identical block is cached already this one stays out of the cache (it is freed, not
  // cached, when released).
  uint64_t commit_full(int32_t block, uint64_t parent, std::span<const int32_t> tokens);

 private:
  struct Block {
    int32_t refcount = 0;
    bool cached = false;
    uint64_t hash = 0;
    uint64_t parent = 0;
    int32_t lru_prev = -1;  // links among unreferenced cached blocks, oldest at lru_head_
    int32_t lru_next = -1;
  };
  void lru_push_back(int32_t b);
  void lru_remove(int32_t b);
  void evict(int32_t b);
  std::span<const int32_t> tokens_of(int32_t b) const;

  const int block_size_;
  std::vector<Block> blocks_;
  std::vector<int32_t> tokens_;  // [n_blocks][block_size]: the tokens of each cached block, for verification
  std::vector<int32_t> free_;    // uncached, unreferenced; a stack
  std::unordered_map<uint64_t, int32_t> cache_;  // hash -> block
  int32_t lru_head_ = -1;
  int32_t lru_tail_ = -1;
  int64_t n_evictable_ = 0;
};

}  // namespace mixserve
