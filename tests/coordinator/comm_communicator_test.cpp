// Collectives: all-gather on the one-rank and threaded communicators, and the MPI communicator in real
// processes under mpirun (this test binary re-runs itself as the ranks).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <thread>

#include "comm/communicator.h"
#include "comm/mpi_world.h"
#include "test_support.h"

namespace mixserve {
namespace {

TEST(Communicator, LocalAllGatherCopies) {
  LocalCommunicator comm;
  auto rng = test::make_rng(21);
  const auto data = test::random_normal(37, rng);
  std::vector<float> out(37);
  ASSERT_TRUE(comm.all_gather(data.data(), data.size(), out.data()).ok());
  EXPECT_EQ(out, data);
}

TEST(Communicator, InProcessAllGatherPutsEachRankInItsSlot) {
  for (int size : {2, 3, 4}) {
    auto group = InProcessGroup::create(size);
    auto rng = test::make_rng(22 + size);
    const size_t n = 1 + rng() % 100;
    std::vector<std::vector<float>> parts(size);
    std::vector<float> expected;
    for (int r = 0; r < size; ++r) {
      parts[r] = test::random_normal(n, rng);
      expected.insert(expected.end(), parts[r].begin(), parts[r].end());
    }
    std::vector<std::vector<float>> results(size, std::vector<float>(n * size));
    std::vector<std::thread> ranks;
    for (int r = 0; r < size; ++r)
      ranks.emplace_back([&, r] {
        auto comm = group->communicator(r);
        // Rank 1 gathers in place (its part already in its slot), the others from a separate buffer; then an
        // all-reduce follows to show the two kinds of collective interleave correctly.
        if (r == 1) std::copy(parts[r].begin(), parts[r].end(), results[r].begin() + r * n);
        const float* send = r == 1 ? results[r].data() + r * n : parts[r].data();
        EXPECT_TRUE(comm->all_gather(send, n, results[r].data()).ok());
        std::vector<float> ones(5, 1.0f);
        EXPECT_TRUE(comm->all_reduce_sum(ones.data(), ones.size()).ok());
        EXPECT_EQ(ones, std::vector<float>(5, static_cast<float>(size)));
      });
    for (auto& t : ranks) t.join();
    for (int r = 0; r < size; ++r) EXPECT_EQ(results[r], expected) << "size " << size << " rank " << r;
  }
}

// The rank side, run only under mpirun by the test below: 4 ranks split into two groups of 2 (even and odd
// world ranks), each checking all-reduce, all-gather, the host exchange and the broadcast.
TEST(MpiChild, CollectivesOnSplitGroups) {
  if (!std::getenv("MIXSERVE_MPI_CHILD")) GTEST_SKIP() << "runs as a rank of MpiCommunicator.UnderMpirun";
  ASSERT_TRUE(mpi_init(nullptr, nullptr).ok());
  const int rank = mpi_world_rank();
  ASSERT_EQ(mpi_world_size(), 4);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto hosts = mpi_exchange_hosts(deadline);
  ASSERT_TRUE(hosts.ok()) << hosts.status().to_string();
  EXPECT_EQ(hosts->size(), 4u);
  auto address = mpi_broadcast_string(rank == 0 ? "127.0.0.1:4242" : "", 0, deadline);
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(*address, "127.0.0.1:4242");
  auto comm = mpi_split(rank % 2, rank);
  ASSERT_TRUE(comm.ok() && *comm) << comm.status().to_string();
  EXPECT_EQ((*comm)->size(), 2);
  EXPECT_EQ((*comm)->rank(), rank / 2);
  // Values depend on the world rank, so a group that mixed the wrong ranks gives the wrong sum.
  auto values_of = [](int world_rank) {
    std::vector<float> v(1000);
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(world_rank * 1000 + i));
    return v;
  };
  std::vector<float> data = values_of(rank);
  const std::vector<float> a = values_of(rank % 2), b = values_of(rank % 2 + 2);
  ASSERT_TRUE((*comm)->all_reduce_sum(data.data(), data.size()).ok());
  for (size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], a[i] + b[i]) << i;
  const std::vector<float> mine = values_of(rank);
  std::vector<float> gathered(2 * mine.size());
  ASSERT_TRUE((*comm)->all_gather(mine.data(), mine.size(), gathered.data()).ok());
  EXPECT_TRUE(std::equal(a.begin(), a.end(), gathered.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), gathered.begin() + a.size()));
  comm->reset();
  mpi_finalize();
}

TEST(MpiCommunicator, UnderMpirun) {
  if (std::getenv("MIXSERVE_MPI_CHILD")) GTEST_SKIP();
  char self[4096] = {};
  ASSERT_GT(readlink("/proc/self/exe", self, sizeof(self) - 1), 0);
  std::string output;
  const int rc = test::run_command(
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 MIXSERVE_MPI_CHILD=1 timeout 120 mpirun "
      "--oversubscribe --bind-to none -x MIXSERVE_MPI_CHILD -np 4 " +
          std::string(self) + " --gtest_color=no --gtest_filter=MpiChild.CollectivesOnSplitGroups",
      &output);
  EXPECT_EQ(rc, 0) << output;
  size_t passed = 0;
  for (size_t at = output.find("[  PASSED  ] 1 test"); at != std::string::npos;
       at = output.find("[  PASSED  ] 1 test", at + 1))
    ++passed;
  EXPECT_EQ(passed, 4u) << output;
}

}  // namespace
}  // namespace mixserve
