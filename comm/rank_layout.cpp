#include "comm/rank_layout.h"

namespace mixserve {

Result<RankLayout> make_rank_layout(int world_rank, int world_size, int tp, int dp,
                                    const std::vector<std::string>& hosts) {
  if (tp < 1 || dp < 1) return invalid_argument("--tp and --dp must be at least 1");
  if (world_size != 1 + tp * dp)
    return invalid_argument("mpirun started " + std::to_string(world_size) + " processes; --tp " + std::to_string(tp) +
                            " --dp " + std::to_string(dp) + " needs 1 + " + std::to_string(tp) + " * " +
                            std::to_string(dp) + " = " + std::to_string(1 + tp * dp) +
                            " (one coordinator, then the workers)");
  if (world_rank < 0 || world_rank >= world_size)
    return invalid_argument("world rank " + std::to_string(world_rank) + " outside [0, " + std::to_string(world_size) +
                            ")");
  if (static_cast<int>(hosts.size()) != world_size)
    return invalid_argument("host list has " + std::to_string(hosts.size()) + " entries for " +
                            std::to_string(world_size) + " ranks");
  RankLayout layout{.world_rank = world_rank,
                    .world_size = world_size,
                    .tp = tp,
                    .dp = dp,
                    .coordinator = world_rank == 0,
                    .host = hosts[world_rank]};
  if (layout.coordinator) return layout;
  const int w = world_rank - 1;
  layout.replica = w / tp;
  layout.tp_rank = w % tp;
  layout.local_rank = 0;
  for (int r = 1; r < world_rank; ++r) layout.local_rank += hosts[r] == layout.host;
  return layout;
}

int world_rank_of(int replica, int tp_rank, int tp) {
  return 1 + replica * tp + tp_rank;
}

std::string describe_worker_rank(int world_rank, int tp, const std::string& host) {
  const int w = world_rank - 1;
  return "rank " + std::to_string(world_rank) + " (replica " + std::to_string(w / tp) + ", tp " +
         std::to_string(w % tp) + ") on " + host;
}

}  // namespace mixserve
