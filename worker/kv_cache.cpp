#include "worker/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/check.h"

namespace mixserve {
namespace {

KvPoolLayout pool_layout(const KvCacheOptions& options, KvFormat format, int n_kv_heads, int head_dim) {
  return {.n_blocks = options.n_blocks, .block_size = options.block_size, .n_kv_heads = n_kv_heads,
          .head_dim = head_dim, .format = format};
}

size_t pool_bytes(const KvPoolLayout& layout) { return layout.data_bytes() + layout.param_count() * sizeof(uint16_t); }

}  // namespace

size_t KvCache::bytes_per_block(const KvCacheOptions& options, int64_t n_layers, int n_kv_heads, int head_dim) {
  KvCacheOptions one = options;
  one.n_blocks = 1;
  return n_layers * (pool_bytes(pool_layout(one, options.k_format, n_kv_heads, head_dim)) +
                     pool_bytes(pool_layout(one, options.v_format, n_kv_heads, head_dim)));
}

KvCache::KvCache(const KvCacheOptions& options, int64_t n_layers, int n_kv_heads, int head_dim, Backend& backend)
    : options_(options) {
  MIXSERVE_CHECK(options.block_size > 0 && (options.block_size & (options.block_size - 1)) == 0);
  MIXSERVE_CHECK(options.n_blocks > 0);
  auto make_pool = [&](KvFormat format) {
    KvPoolView view{.layout = pool_layout(options, format, n_kv_heads, head_dim)};
    DeviceBuffer data = backend.allocate(view.layout.data_bytes());
    view.data = data.bytes();
    storage_.push_back(std::move(data));
    if (kv_format_has_params(format)) {
      DeviceBuffer params = backend.allocate(view.layout.param_count() * sizeof(uint16_t));
      view.params = reinterpret_cast<uint16_t*>(params.bytes());
      storage_.push_back(std::move(params));
    }
    bytes_ += pool_bytes(view.layout);
    return view;
  };
  for (int64_t l = 0; l < n_layers; ++l) {
    k_pools_.push_back(make_pool(options.k_format));
    v_pools_.push_back(make_pool(options.v_format));
  }
}

BlockAllocator::BlockAllocator(int64_t n_blocks) {
  // Handed out from the low ids up, which keeps single-sequence runs readable in logs.
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

Result<std::vector<int32_t>> BlockAllocator::allocate(int64_t n) {
  if (n > n_free())
    return Status(StatusCode::resource_exhausted,
                  "KV cache full: " + std::to_string(n) + " blocks needed, " + std::to_string(n_free()) + " free");
  std::vector<int32_t> out(free_.end() - n, free_.end());
  free_.resize(free_.size() - n);
  std::reverse(out.begin(), out.end());
  return out;
}

void BlockAllocator::release(const std::vector<int32_t>& blocks) {
  free_.insert(free_.end(), blocks.rbegin(), blocks.rend());
}

}  // namespace mixserve
