// The coordinator's own overhead per engine step: from a replica's results arriving to the next StepPlan
// being ready, at a steady batch of decoding sequences (the design's target: p50 < 100 us at 64).
// The replica is a stand-in that answers at once, so everything measured is the scheduler's: commit
// (tokens to sinks, stop checks, prefix-cache registration), release, admit, schedule, plan building and the
// metrics updates. Usage: scheduler_bench [--running 64] [--steps 5000] [--block-size 64] [--prompt 512]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "coordinator/metrics/registry.h"
#include "coordinator/metrics/serving_metrics.h"
#include "coordinator/scheduler/scheduler.h"

namespace mixserve {
namespace {

using Clock = std::chrono::steady_clock;

class InstantReplica final : public Replica {
 public:
  InstantReplica(int64_t n_blocks, int block_size) : n_blocks_(n_blocks), block_size_(block_size) {}
  ReplicaCapacity capacity() const override {
    return {.n_kv_blocks = n_blocks_, .block_size = block_size_, .max_model_len = 1 << 20, .vocab_size = 32000};
  }
  Result<std::vector<SequenceOutput>> execute(const StepPlan& plan) override {
    const auto enter = Clock::now();
    if (have_exit_) gaps_.push_back(std::chrono::duration<double, std::micro>(enter - exit_).count());
    plan_sizes_.push_back(plan.sequences.size());
    size_t n_tokens = 0;
    for (const auto& s : plan.sequences) n_tokens += s.tokens.size();
    plan_tokens_.push_back(n_tokens);
    std::vector<SequenceOutput> out(plan.sequences.size());
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].seq_id = plan.sequences[i].seq_id;
      if (plan.sequences[i].sample) out[i].sample = cpu::SampleOutput{.token = next_token(), .logprob = -1};
    }
    exit_ = Clock::now();
    have_exit_ = true;
    return out;
  }
  Status release(const std::vector<uint64_t>&) override { return {}; }
  std::string describe() const override { return "instant replica"; }
  // Never token 2, the EOS below: nobody finishes during the measurement.
  int32_t next_token() { return static_cast<int32_t>(3 + (counter_++ * 7919) % 31997); }

  std::vector<double> gaps_;  // us between results returned and the next plan arriving
  std::vector<size_t> plan_sizes_;
  std::vector<size_t> plan_tokens_;

 private:
  int64_t n_blocks_;
  int block_size_;
  uint64_t counter_ = 0;
  Clock::time_point exit_;
  bool have_exit_ = false;
};

class CountingSink final : public RequestSink {
 public:
  void on_tokens(int, std::vector<TokenOutput> tokens) override { n_tokens += static_cast<int64_t>(tokens.size()); }
  void on_finished(int, FinishReason, Status) override { ++n_finished; }
  int64_t n_tokens = 0;
  int64_t n_finished = 0;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

int run(int argc, char** argv) {
  int64_t n_running = 64, n_steps = 5000, prompt = 512;
  int block_size = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int64_t v = std::atoll(argv[i + 1]);
    if (flag == "--running")
      n_running = v;
    else if (flag == "--steps")
      n_steps = v;
    else if (flag == "--block-size")
      block_size = static_cast<int>(v);
    else if (flag == "--prompt")
      prompt = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  const int64_t max_tokens = n_steps + n_running + 16;  // nobody finishes during the measurement
  const int64_t blocks_per_seq = (prompt + max_tokens + block_size - 1) / block_size;
  InstantReplica replica(n_running * blocks_per_seq + 16, block_size);
  metrics::Registry registry;
  ServingMetrics serving(registry);
  ReplicaMetrics rm(serving, "bench", "0");
  Scheduler scheduler(replica, {.max_batch_tokens = 8192, .max_running = n_running, .max_waiting = n_running}, &rm);
  auto sink = std::make_shared<CountingSink>();
  for (int64_t i = 0; i < n_running; ++i) {
    GenerationRequest r;
    r.request_id = "r" + std::to_string(i);
    r.prompt.resize(static_cast<size_t>(prompt));
    for (int64_t k = 0; k < prompt; ++k) r.prompt[static_cast<size_t>(k)] = static_cast<int32_t>((i * 131 + k) % 32000);
    r.max_tokens = max_tokens;
    r.sampling.temperature = 0;
    r.eos_ids = {2};  // checked every token, as in serving
    if (Status st = scheduler.submit(r, sink); !st.ok()) {
      std::fprintf(stderr, "submit: %s\n", st.to_string().c_str());
      return 1;
    }
  }
  // Prefill until every sequence decodes, then measure n_steps decode steps.
  const auto all_decoding = [&] {
    return !replica.plan_sizes_.empty() && replica.plan_sizes_.back() == static_cast<size_t>(n_running) &&
           replica.plan_tokens_.back() == static_cast<size_t>(n_running);
  };
  while (!all_decoding()) scheduler.step();
  const size_t warm = replica.gaps_.size();
  for (int64_t s = 0; s < n_steps; ++s) scheduler.step();
  std::vector<double> gaps(replica.gaps_.begin() + static_cast<ptrdiff_t>(warm), replica.gaps_.end());
  for (size_t i = warm; i < replica.plan_sizes_.size(); ++i) {
    if (replica.plan_sizes_[i] != static_cast<size_t>(n_running) ||
        replica.plan_tokens_[i] != static_cast<size_t>(n_running)) {
      std::fprintf(stderr, "measured step %zu held %zu sequences, %zu tokens, not all %lld decoding\n", i - warm,
                   replica.plan_sizes_[i], replica.plan_tokens_[i], static_cast<long long>(n_running));
      return 1;
    }
  }
  double mean = 0;
  for (double g : gaps) mean += g;
  mean /= static_cast<double>(gaps.size());
  std::printf(
      "scheduler overhead per step (results received -> next plan built), %lld decoding sequences, "
      "block %d, prompt %lld, %zu steps\n",
      static_cast<long long>(n_running), block_size, static_cast<long long>(prompt), gaps.size());
  std::printf("p50 %.1f us  p90 %.1f us  p99 %.1f us  max %.1f us  mean %.1f us\n", percentile(gaps, 0.5),
              percentile(gaps, 0.9), percentile(gaps, 0.99), percentile(gaps, 1.0), mean);
  return 0;
}

}  // namespace
}  // namespace mixserve

int main(int argc, char** argv) {
  return mixserve::run(argc, argv);
}
