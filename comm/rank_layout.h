#pragma once
// Who is who under `mpirun -np 1+TP*DP`: world rank 0 is the coordinator; worker w = world rank - 1 belongs to
// replica w / TP with tensor rank w % TP. A worker's local rank (its index among the workers on its host)
// picks its GPU. Pure functions of the rank, the sizes and the host list, so they are tested without MPI.
#include <string>
#include <vector>

#include "core/status.h"

namespace mixserve {

struct RankLayout {
  int world_rank = 0;
  int world_size = 1;
  int tp = 1;
  int dp = 1;
  bool coordinator = true;
  int replica = -1;     // workers only
  int tp_rank = -1;     // workers only
  int local_rank = -1;  // workers only: index among the workers on the same host
  std::string host;     // this rank's host
};

// invalid_argument unless world_size == 1 + tp * dp with tp, dp >= 1; `hosts` has one entry per world rank.
Result<RankLayout> make_rank_layout(int world_rank, int world_size, int tp, int dp,
                                    const std::vector<std::string>& hosts);
int world_rank_of(int replica, int tp_rank, int tp);  // the inverse, for workers
// "rank 3 (replica 1, tp 0) on host-b": the name used in logs and errors.
std::string describe_worker_rank(int world_rank, int tp, const std::string& host);

}  // namespace mixserve
