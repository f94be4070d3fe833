// `mixserve cluster-check`: proves a `mpirun` launch end to end without HTTP. It starts the cluster
// (tools/cli/cluster.h), then drives every replica through the Replica API with greedy batches of the given
// prompts, back to back, for --duration-ms (at least one batch each), and prints one JSON object per line:
//   {"event":"replica",...}   each replica's ranks, hosts and pids
//   {"event":"batch",...}     one finished or failed batch: replica, tokens per prompt or the error, times
//   {"event":"summary",...}   batches per replica, lost replicas, transport overhead per step (p50/p99)
// Exit code: 0 when every replica stayed up, 3 when some were lost but another kept serving, 1 otherwise.
#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tools/cli/cluster.h"
#include "tools/cli/commands.h"
#include "tools/cli/parse_options.h"
#include "tools/cli/token_id_list.h"

namespace mixserve::cli {
namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;
using Prompts = std::vector<std::vector<int32_t>>;

// "1,2,3;4,5": prompts separated by ';', each a token id list (tools/cli/token_id_list.h).
Result<Prompts> parse_prompts(const std::string& text) {
  Prompts prompts;
  std::stringstream all(text);
  std::string one;
  while (std::getline(all, one, ';')) {
    MIXSERVE_ASSIGN_OR_RETURN(auto ids, parse_token_id_list(one, "--prompt-ids", /*allow_negative=*/false));
    if (ids.empty()) return invalid_argument("--prompt-ids: an empty prompt");
    prompts.push_back(std::move(ids));
  }
  if (prompts.empty()) return invalid_argument("--prompt-ids is empty");
  return prompts;
}

class Checker {
 public:
  Checker(Prompts prompts, int64_t max_tokens, std::chrono::milliseconds duration)
      : prompts_(std::move(prompts)), max_tokens_(max_tokens), duration_(duration) {}

  int run(std::vector<std::unique_ptr<Replica>>& replicas);

 private:
  void drive(int index, Replica& replica);
  Result<Prompts> run_batch(Replica& replica, std::vector<int64_t>& overhead_us);
  void print(const nlohmann::json& line);
  double ms_since_start() const { return std::chrono::duration<double, std::milli>(Clock::now() - start_).count(); }

  const Prompts prompts_;
  const int64_t max_tokens_;
  const std::chrono::milliseconds duration_;
  Clock::time_point start_ = Clock::now();
  std::mutex mutex_;  // stdout and the tallies below
  std::vector<int> batches_ok_;
  std::vector<bool> lost_;
  std::vector<int64_t> overhead_us_;
  std::atomic<uint64_t> next_seq_id_{1};
};

Result<Prompts> Checker::run_batch(Replica& replica, std::vector<int64_t>& overhead_us) {
  const ReplicaCapacity capacity = replica.capacity();
  StepPlan plan;
  int32_t next_block = 0;
  for (const auto& prompt : prompts_) {
    const int64_t total = static_cast<int64_t>(prompt.size()) + max_tokens_;
    const int64_t n_blocks = (total + capacity.block_size - 1) / capacity.block_size;
    if (next_block + n_blocks > capacity.n_kv_blocks)
      return Status(StatusCode::resource_exhausted, "the prompts need more than the replica's " +
                                                        std::to_string(capacity.n_kv_blocks) +
                                                        " KV blocks; raise --kv-tokens");
    SequenceStep step{.seq_id = next_seq_id_++,
                      .tokens = prompt,
                      .start_pos = 0,
                      .n_prompt_tokens = static_cast<int64_t>(prompt.size()),
                      .sample = true,
                      .sampling = {.temperature = 0.0f}};
    for (int64_t b = 0; b < n_blocks; ++b) step.block_table.push_back(next_block++);
    plan.sequences.push_back(std::move(step));
  }
  Prompts outputs(prompts_.size());
  auto* remote = dynamic_cast<RemoteReplica*>(&replica);
  for (int64_t k = 0; k < max_tokens_; ++k) {
    MIXSERVE_ASSIGN_OR_RETURN(auto results, replica.execute(plan));
    if (remote) {
      const StepTiming t = remote->last_step_timing();
      overhead_us.push_back(t.wall_us - t.compute_us);
    }
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i].sample) return internal_error("a sequence came back without a sampled token");
      outputs[i].push_back(results[i].sample->token);
      SequenceStep& s = plan.sequences[i];
      s.start_pos += static_cast<int64_t>(s.tokens.size());
      s.tokens = {results[i].sample->token};
    }
  }
  std::vector<uint64_t> ids;
  for (const SequenceStep& s : plan.sequences) ids.push_back(s.seq_id);
  MIXSERVE_RETURN_IF_ERROR(replica.release(ids));
  return outputs;
}

void Checker::drive(int index, Replica& replica) {
  std::vector<int64_t> overhead_us;
  for (int batch = 0;; ++batch) {
    const double begin_ms = ms_since_start();
    auto outputs = run_batch(replica, overhead_us);
    nlohmann::json line = {{"event", "batch"},   {"replica", index},     {"batch", batch},
                           {"ok", outputs.ok()}, {"start_ms", begin_ms}, {"end_ms", ms_since_start()}};
    if (outputs.ok())
      line["tokens"] = *outputs;
    else
      line["error"] = outputs.status().to_string();
    print(line);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!outputs.ok()) {
      lost_[index] = true;
      break;
    }
    ++batches_ok_[index];
    if (Clock::now() - start_ >= duration_) break;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  overhead_us_.insert(overhead_us_.end(), overhead_us.begin(), overhead_us.end());
}

void Checker::print(const nlohmann::json& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
}

int Checker::run(std::vector<std::unique_ptr<Replica>>& replicas) {
  const int n = static_cast<int>(replicas.size());
  batches_ok_.assign(n, 0);
  lost_.assign(n, false);
  for (int r = 0; r < n; ++r) print({{"event", "replica"}, {"replica", r}, {"describe", replicas[r]->describe()}});
  start_ = Clock::now();
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) threads.emplace_back([this, r, &replicas] { drive(r, *replicas[r]); });
  for (auto& t : threads) t.join();

  std::sort(overhead_us_.begin(), overhead_us_.end());
  auto percentile = [&](double p) -> int64_t {
    if (overhead_us_.empty()) return 0;
    return overhead_us_[std::min(overhead_us_.size() - 1, static_cast<size_t>(p * overhead_us_.size()))];
  };
  const int n_lost = static_cast<int>(std::count(lost_.begin(), lost_.end(), true));
  print({{"event", "summary"},
         {"batches_ok", batches_ok_},
         {"lost", lost_},
         {"steps", overhead_us_.size()},
         {"overhead_us_p50", percentile(0.5)},
         {"overhead_us_p99", percentile(0.99)}});
  if (n_lost == 0) return 0;
  return n_lost < n ? 3 : 1;
}

}  // namespace

int run_cluster_check(int argc, char** argv) {
  ClusterOptions cluster;
  std::string prompt_ids;
  int64_t max_tokens = 8;
  int64_t duration_ms = 0, step_timeout_ms = 120000, peer_timeout_ms = 10000, bootstrap_timeout_ms = 60000;
  po::options_description desc("mpirun -np 1+TP*DP mixserve cluster-check --model DIR --tp TP --dp DP [options]");
  desc.add_options()("help,h", "this help")("model", po::value(&cluster.model_dir)->required(),
                                            "HF checkpoint directory (the same path on every host)")(
      "tp", po::value(&cluster.tp)->default_value(1), "tensor-parallel ranks per replica")(
      "dp", po::value(&cluster.dp)->default_value(1), "replicas")("prompt-ids", po::value(&prompt_ids)->required(),
                                                                  "prompts as token ids: 1,2,3;4,5 (one batch)")(
      "max-tokens", po::value(&max_tokens)->default_value(8), "greedy tokens per prompt")(
      "duration-ms", po::value(&duration_ms)->default_value(0), "keep running batches this long (0: one each)")(
      "kv-tokens", po::value(&cluster.engine.kv_tokens)->default_value(4096), "KV cache capacity per worker")(
      "threads", po::value(&cluster.worker_threads)->default_value(0), "CPU threads per worker (0: share cores)")(
      "coordinator-host", po::value(&cluster.coordinator_host), "address workers connect to (default: auto)")(
      "step-timeout-ms", po::value(&step_timeout_ms)->default_value(120000), "rank 0's answer deadline")(
      "peer-timeout-ms", po::value(&peer_timeout_ms)->default_value(10000), "silence that declares a rank lost")(
      "bootstrap-timeout-ms", po::value(&bootstrap_timeout_ms)->default_value(60000), "until every worker is in");
  po::variables_map vm;
  if (auto exit_code = parse_options("cluster-check", argc, argv, desc, vm)) return *exit_code;
  auto prompts = parse_prompts(prompt_ids);
  if (!prompts.ok()) {
    std::fprintf(stderr, "mixserve cluster-check: %s\n", prompts.status().to_string().c_str());
    return 2;
  }
  if (!in_cluster_launch()) {
    std::fprintf(stderr, "mixserve cluster-check: run it under mpirun -np 1+TP*DP\n");
    return 2;
  }
  cluster.replica.step_timeout = std::chrono::milliseconds(step_timeout_ms);
  cluster.channel.peer_timeout = std::chrono::milliseconds(peer_timeout_ms);
  cluster.bootstrap_timeout = std::chrono::milliseconds(bootstrap_timeout_ms);
  auto replicas = start_cluster(cluster);  // worker ranks never return from here
  if (!replicas.ok()) {
    std::fprintf(stderr, "mixserve cluster-check: %s\n", replicas.status().to_string().c_str());
    return 1;
  }
  Checker checker(std::move(*prompts), max_tokens, std::chrono::milliseconds(duration_ms));
  return checker.run(*replicas);
}

}  // namespace mixserve::cli
