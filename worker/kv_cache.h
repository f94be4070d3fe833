#pragma once
// The paged KV cache memory of one rank: per layer a K pool and a V pool (kernels/formats/kv_format.h), each
// in its own format, all with the same number of blocks. The worker owns this memory; which blocks belong to
// which sequence is decided by the scheduler (or BlockAllocator for single-process tools) and arrives as block
// tables.
#include <cstdint>
#include <vector>

#include "kernels/formats/kv_format.h"
#include "worker/backend.h"

namespace mixserve {

struct KvCacheOptions {
  KvFormat k_format = KvFormat::f16;
  KvFormat v_format = KvFormat::f16;
  int block_size = 64;  // tokens per block, a power of two
  int64_t n_blocks = 0;
};

class KvCache {
 public:
  KvCache(const KvCacheOptions& options, int64_t n_layers, int n_kv_heads, int head_dim, Backend& backend);

  const KvPoolView& k_pool(int64_t layer) const { return k_pools_[layer]; }
  const KvPoolView& v_pool(int64_t layer) const { return v_pools_[layer]; }
  int block_size() const { return options_.block_size; }
  int64_t n_blocks() const { return options_.n_blocks; }
  size_t bytes() const { return bytes_; }
  // Bytes one block takes across all layers, K and V, data and params: for sizing the pool from a budget.
  static size_t bytes_per_block(const KvCacheOptions& options, int64_t n_layers, int n_kv_heads, int head_dim);

 private:
  KvCacheOptions options_;
  std::vector<DeviceBuffer> storage_;
  std::vector<KvPoolView> k_pools_;
  std::vector<KvPoolView> v_pools_;
  size_t bytes_ = 0;
};

// A free list of block ids for single-process users (tests, `mixserve generate`).
class BlockAllocator {
 public:
  explicit BlockAllocator(int64_t n_blocks);
  // resource_exhausted when fewer than n blocks are free; nothing is taken then.
  Result<std::vector<int32_t>> allocate(int64_t n);
  void release(const std::vector<int32_t>& blocks);
  int64_t n_free() const { return static_cast<int64_t>(free_.size()); }

 private:
  std::vector<int32_t> free_;
};

}  // namespace mixserve
