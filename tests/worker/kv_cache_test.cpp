#include <gtest/gtest.h>

#include <set>

#include "core/thread_pool.h"
#include "worker/cpu_backend.h"
#include "worker/kv_cache.h"

namespace mixserve {
namespace {

TEST(BlockAllocator, HandsOutDistinctBlocksAndRefusesWhenFull) {
  BlockAllocator alloc(10);
  auto a = alloc.allocate(4);
  ASSERT_TRUE(a.ok());
  auto b = alloc.allocate(6);
  ASSERT_TRUE(b.ok());
  std::set<int32_t> all(a->begin(), a->end());
  all.insert(b->begin(), b->end());
  EXPECT_EQ(all.size(), 10u);
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 9);
  auto c = alloc.allocate(1);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::resource_exhausted);
  alloc.release(*a);
  EXPECT_EQ(alloc.n_free(), 4);
  EXPECT_TRUE(alloc.allocate(4).ok());
}

TEST(KvCache, SizesPoolsFromFormats) {
  ThreadPool pool(1);
  CpuBackend backend(pool);
  const KvCacheOptions options{.k_format = KvFormat::int4, .v_format = KvFormat::f16, .block_size = 16, .n_blocks = 3};
  KvCache cache(options, /*n_layers=*/2, /*n_kv_heads=*/2, /*head_dim=*/64, backend);
  // int4 K: 32 data bytes + 2 fp16 params per row; f16 V: 128 bytes per row; 2 heads x 16 slots per block.
  const size_t per_block = 2 * (2 * 16 * (32 + 4) + 2 * 16 * 128);
  EXPECT_EQ(KvCache::bytes_per_block(options, 2, 2, 64), per_block);
  EXPECT_EQ(cache.bytes(), 3 * per_block);
  EXPECT_NE(cache.k_pool(1).params, nullptr);
  EXPECT_EQ(cache.v_pool(1).params, nullptr);
  EXPECT_EQ(cache.k_pool(0).layout.format, KvFormat::int4);
  EXPECT_NE(cache.k_pool(0).data, cache.k_pool(1).data);
}

}  // namespace
}  // namespace mixserve
