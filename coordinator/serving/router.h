#pragma once
// Router: picks the replica for a new request. Load is each replica's outstanding tokens (prompt + n *
// max_tokens of its live requests); the least loaded up replica wins, unless a replica that recently took a
// prompt with the same leading blocks (prefix affinity: its prefix cache likely holds them) is loaded by no
// more than the prompt tokens such a hit would save.
// Thread-safety: none; EngineCore calls it under its own mutex.
#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <vector>

namespace mixserve {

struct ReplicaLoad {
  bool up = false;
  int64_t outstanding_tokens = 0;
};

class Router {
 public:
  // `block_size`: the replicas' KV block size (affinity is remembered per full block of a prompt);
  // `max_entries`: remembered block hashes, the oldest forgotten first.
  explicit Router(int block_size, size_t max_entries = size_t{1} << 16);

  // The chosen replica, or -1 when none is up.
  int pick(std::span<const int32_t> prompt, std::span<const ReplicaLoad> loads) const;
  // Remembers that `replica` took `prompt`.
  void record(std::span<const int32_t> prompt, int replica);

  // Tokens of `prompt`'s leading full blocks last routed to `replica` (0 if none): exposed for tests.
  int64_t affinity(std::span<const int32_t> prompt, int replica) const;

 private:
  static constexpr int kMaxBlocks = 32;  // affinity looks at the first 32 blocks: enough to tell prompts apart
  std::vector<uint64_t> chain(std::span<const int32_t> prompt) const;

  const int block_size_;
  const size_t max_entries_;
  std::unordered_map<uint64_t, int> owner_;  // block-chain hash -> replica that last took it
  std::deque<uint64_t> order_;               // insertion order, for forgetting
};

}  // namespace mixserve
