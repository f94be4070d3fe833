// Router: least outstanding tokens, prefix affinity bounded by the work a cache hit saves, replicas down.
#include "coordinator/serving/router.h"

#include <gtest/gtest.h>

#include <vector>

namespace mixserve {
namespace {

std::vector<int32_t> prompt_of(int n, int32_t v) {
  return std::vector<int32_t>(static_cast<size_t>(n), v);
}

TEST(Router, PicksTheLeastLoadedReplicaThatIsUp) {
  Router router(4);
  const std::vector<ReplicaLoad> loads = {{true, 50}, {true, 10}, {false, 0}};
  EXPECT_EQ(router.pick(prompt_of(9, 1), loads), 1);
  const std::vector<ReplicaLoad> down = {{false, 0}, {false, 0}};
  EXPECT_EQ(router.pick(prompt_of(9, 1), down), -1);
}

TEST(Router, PrefersTheReplicaHoldingThePrefixUnlessItIsTooBusy) {
  Router router(4);
  auto shared = prompt_of(40, 7);  // nine blocks can hit (the last token is always recomputed)
  router.record(shared, 0);
  EXPECT_EQ(router.affinity(shared, 0), 36);
  EXPECT_EQ(router.affinity(shared, 1), 0);
  auto sibling = shared;
  sibling.back() = 8;
  // Replica 0 is busier by less than the 36 tokens a hit saves: affinity wins.
  EXPECT_EQ(router.pick(sibling, std::vector<ReplicaLoad>{{true, 30}, {true, 0}}), 0);
  // Busier by more: load wins.
  EXPECT_EQ(router.pick(sibling, std::vector<ReplicaLoad>{{true, 100}, {true, 0}}), 1);
  // The affine replica is down: load decides.
  EXPECT_EQ(router.pick(sibling, std::vector<ReplicaLoad>{{false, 0}, {true, 5}}), 1);
  // A different prompt has no affinity.
  EXPECT_EQ(router.pick(prompt_of(40, 9), std::vector<ReplicaLoad>{{true, 1}, {true, 0}}), 1);
}

TEST(Router, ForgetsTheOldestEntriesBeyondItsCapacity) {
  Router router(2, 4);
  router.record(prompt_of(5, 1), 0);  // two blocks remembered
  router.record(prompt_of(5, 2), 1);  // two more: full
  router.record(prompt_of(5, 3), 1);  // the first prompt's blocks are forgotten
  EXPECT_EQ(router.affinity(prompt_of(5, 1), 0), 0);
  EXPECT_EQ(router.affinity(prompt_of(5, 3), 1), 4);
}

}  // namespace
}  // namespace mixserve
