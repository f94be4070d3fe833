// BlockManager: reference counts, the free count, the prefix cache's hash chain, verification and LRU order.
#include "coordinator/scheduler/block_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "test_support.h"

namespace mixserve {
namespace {

std::vector<int32_t> iota_tokens(int n, int32_t first) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}

TEST(BlockManager, AllocateIsAllOrNothingAndReleaseReturnsEverything) {
  BlockManager bm(8, 4);
  std::vector<int32_t> a, b;
  ASSERT_TRUE(bm.allocate(5, a));
  EXPECT_EQ(bm.n_free(), 3);
  EXPECT_FALSE(bm.allocate(4, b));
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(bm.n_free(), 3);
  ASSERT_TRUE(bm.allocate(3, b));
  EXPECT_EQ(bm.n_free(), 0);
  std::vector<int32_t> all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, iota_tokens(8, 0));  // every id once
  bm.release(a);
  bm.release(b);
  EXPECT_EQ(bm.n_free(), 8);
  EXPECT_EQ(bm.n_used(), 0);
}

TEST(BlockManager, FullBlocksAreFoundAgainThroughTheirChain) {
  BlockManager bm(16, 4);
  const auto tokens = iota_tokens(10, 100);  // two full blocks and a partial one
  std::vector<int32_t> blocks;
  ASSERT_TRUE(bm.allocate(3, blocks));
  const uint64_t h0 = bm.commit_full(blocks[0], 7, std::span(tokens).first(4));
  const uint64_t h1 = bm.commit_full(blocks[1], h0, std::span(tokens).subspan(4, 4));
  EXPECT_EQ(bm.n_cached(), 2);

  std::vector<int32_t> hit;
  std::vector<uint64_t> hashes;
  EXPECT_EQ(bm.match(7, tokens, 100, hit, hashes), 2);
  EXPECT_EQ(hit, std::vector<int32_t>(blocks.begin(), blocks.begin() + 2));
  EXPECT_EQ(hashes, (std::vector<uint64_t>{h0, h1}));
  EXPECT_EQ(bm.refcount(blocks[0]), 2);
  bm.release(hit);

  // Another root, a changed first token, or a limit of one block: shorter or no matches.
  hit.clear();
  hashes.clear();
  EXPECT_EQ(bm.match(8, tokens, 100, hit, hashes), 0);
  auto changed = tokens;
  changed[5] = 0;
  EXPECT_EQ(bm.match(7, changed, 100, hit, hashes), 1);
  bm.release(hit);
  hit.clear();
  EXPECT_EQ(bm.match(7, tokens, 1, hit, hashes), 1);
  bm.release(hit);
  bm.release(blocks);
  EXPECT_EQ(bm.n_used(), 0);
  EXPECT_EQ(bm.n_free(), 16);  // cached but unreferenced blocks count as free
  EXPECT_EQ(bm.n_cached(), 2);
}

TEST(BlockManager, IdenticalContentIsCachedOnce) {
  BlockManager bm(8, 2);
  const std::vector<int32_t> t = {1, 2};
  std::vector<int32_t> a, b;
  ASSERT_TRUE(bm.allocate(1, a));
  ASSERT_TRUE(bm.allocate(1, b));
  const uint64_t ha = bm.commit_full(a[0], 0, t);
  EXPECT_EQ(bm.commit_full(b[0], 0, t), ha);
  EXPECT_EQ(bm.n_cached(), 1);
  bm.release(b);  // not cached: straight back to the free list
  bm.release(a);
  std::vector<int32_t> hit;
  std::vector<uint64_t> hashes;
  ASSERT_EQ(bm.match(0, t, 1, hit, hashes), 1);
  EXPECT_EQ(hit[0], a[0]);
  bm.release(hit);
}

TEST(BlockManager, EvictsLeastRecentlyReleasedAndChainTailsFirst) {
  BlockManager bm(4, 1);
  // Two chains of two blocks each fill the cache: A = [10, 11], then B = [20, 21].
  std::vector<int32_t> a, b;
  ASSERT_TRUE(bm.allocate(2, a));
  ASSERT_TRUE(bm.allocate(2, b));
  const std::vector<int32_t> ta = {10, 11}, tb = {20, 21};
  const uint64_t a0 = bm.commit_full(a[0], 0, std::span(ta).first(1));
  bm.commit_full(a[1], a0, std::span(ta).subspan(1));
  const uint64_t b0 = bm.commit_full(b[0], 0, std::span(tb).first(1));
  bm.commit_full(b[1], b0, std::span(tb).subspan(1));
  bm.release(a);  // A's tail first, then its head
  bm.release(b);
  EXPECT_EQ(bm.n_free(), 4);
  std::vector<int32_t> fresh;
  ASSERT_TRUE(bm.allocate(1, fresh));
  EXPECT_EQ(fresh[0], a[1]);  // A released first, and its tail before its head
  std::vector<int32_t> hit;
  std::vector<uint64_t> hashes;
  EXPECT_EQ(bm.match(0, ta, 2, hit, hashes), 1);  // A's head survives
  EXPECT_EQ(bm.match(0, tb, 2, hit, hashes), 2);  // B untouched
  bm.release(hit);
  bm.release(fresh);
}

// Random allocate / share / commit / release against a reference count kept by the test.
TEST(BlockManager, RandomStormKeepsAccounting) {
  auto rng = test::make_rng(41);
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  const int64_t n_blocks = 32;
  BlockManager bm(n_blocks, 2);
  std::vector<std::vector<int32_t>> owners;  // each owner holds one reference per listed block
  std::map<int32_t, int> refs;
  std::set<int32_t> committed;
  for (int iter = 0; iter < 5000; ++iter) {
    const int op = static_cast<int>(rng() % 4);
    if (op == 0) {
      std::vector<int32_t> got;
      const int64_t n = static_cast<int64_t>(rng() % 5);
      const bool ok = bm.allocate(n, got);
      ASSERT_EQ(ok, n <= bm.n_free() + static_cast<int64_t>(got.size()));
      for (int32_t b : got) {
        ASSERT_EQ(refs[b]++, 0) << "block " << b << " handed out while referenced";
        committed.erase(b);  // a reused block was evicted from the cache
      }
      if (ok) owners.push_back(got);
    } else if (op == 1 && !owners.empty()) {
      const size_t i = rng() % owners.size();
      // Commit one not yet committed block under a small token alphabet so that later matches hit.
      for (int32_t b : owners[i]) {
        if (committed.contains(b)) continue;
        const std::vector<int32_t> t = {static_cast<int32_t>(rng() % 3), static_cast<int32_t>(rng() % 3)};
        bm.commit_full(b, 0, t);
        committed.insert(b);
        break;
      }
    } else if (op == 2) {
      std::vector<int32_t> hit;
      std::vector<uint64_t> hashes;
      const std::vector<int32_t> t = {static_cast<int32_t>(rng() % 3), static_cast<int32_t>(rng() % 3)};
      bm.match(0, t, 1, hit, hashes);
      for (int32_t b : hit) ++refs[b];
      if (!hit.empty()) owners.push_back(hit);
    } else if (!owners.empty()) {
      const size_t i = rng() % owners.size();
      for (int32_t b : owners[i]) --refs[b];
      bm.release(owners[i]);
      owners.erase(owners.begin() + static_cast<ptrdiff_t>(i));
    }
    int64_t used = 0;
    for (const auto& [b, r] : refs) {
      ASSERT_EQ(bm.refcount(b), r);
      used += r > 0;
    }
    ASSERT_EQ(bm.n_used(), used);
  }
  for (const auto& o : owners) bm.release(o);
  EXPECT_EQ(bm.n_free(), n_blocks);
}

}  // namespace
}  // namespace mixserve
