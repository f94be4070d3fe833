// Rank roles under mpirun -np 1+TP*DP: coordinator, replica, tensor rank and local rank.
#include <gtest/gtest.h>

#include "comm/rank_layout.h"

namespace mixserve {
namespace {

TEST(RankLayout, AssignsReplicasAndTensorRanksInWorldOrder) {
  // Rank 0 and two workers on node-a, three workers on node-b: --tp 2 --dp 3... needs 7 ranks.
  const std::vector<std::string> hosts = {"node-a", "node-a", "node-a", "node-b", "node-b", "node-b", "node-b"};
  auto coordinator = make_rank_layout(0, 7, 2, 3, hosts);
  ASSERT_TRUE(coordinator.ok());
  EXPECT_TRUE(coordinator->coordinator);
  EXPECT_EQ(coordinator->replica, -1);
  struct Expected {
    int rank, replica, tp_rank, local_rank;
  };
  for (const Expected e : {Expected{1, 0, 0, 0}, Expected{2, 0, 1, 1}, Expected{3, 1, 0, 0}, Expected{4, 1, 1, 1},
                           Expected{5, 2, 0, 2}, Expected{6, 2, 1, 3}}) {
    auto layout = make_rank_layout(e.rank, 7, 2, 3, hosts);
    ASSERT_TRUE(layout.ok());
    EXPECT_FALSE(layout->coordinator);
    EXPECT_EQ(layout->replica, e.replica) << e.rank;
    EXPECT_EQ(layout->tp_rank, e.tp_rank) << e.rank;
    EXPECT_EQ(layout->local_rank, e.local_rank) << e.rank;
    EXPECT_EQ(layout->host, hosts[e.rank]);
    EXPECT_EQ(world_rank_of(e.replica, e.tp_rank, 2), e.rank);
  }
}

TEST(RankLayout, RejectsAProcessCountThatDoesNotFit) {
  const std::vector<std::string> hosts(4, "h");
  auto layout = make_rank_layout(0, 4, 2, 2, hosts);
  ASSERT_FALSE(layout.ok());
  EXPECT_EQ(layout.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(layout.status().message().find("needs 1 + 2 * 2 = 5"), std::string::npos) << layout.status().message();
  EXPECT_FALSE(make_rank_layout(0, 1, 0, 1, {"h"}).ok());
  EXPECT_FALSE(make_rank_layout(0, 3, 1, 2, {"h"}).ok());  // host list too short
}

TEST(RankLayout, NamesWorkersWithReplicaTensorRankAndHost) {
  EXPECT_EQ(describe_worker_rank(4, 2, "node-b"), "rank 4 (replica 1, tp 1) on node-b");
}

}  // namespace
}  // namespace mixserve
