// The worker process loop (run_worker) on real engines, with threads for ranks and the test as coordinator
// speaking the wire protocol over loopback: Hello, Ready with the KV capacity, greedy steps equal to the
// single-process engine (TP=1, and TP=2 through an in-process all-reduce), Release, Shutdown, load errors.
#include "worker/worker_main.h"

#include <gtest/gtest.h>

#include <thread>

#include "comm/step_plan_convert.h"
#include "comm/tcp_connect.h"
#include "comm/worker_gather.h"
#include "engine_runner.h"
#include "synth_model.h"
#include "test_support.h"

namespace mixserve {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kSeed = 7;

EngineOptions small_cache() {
  EngineOptions o;
  o.kv_tokens = 1024;
  o.block_size = 16;
  return o;
}

// Ranks as threads running run_worker against the test's listener; the test drives them through `links`.
class WorkerThreads {
 public:
  WorkerThreads(int tp, const std::string& model_dir)
      : listener_(std::move(Listener::open(io_, "127.0.0.1", 0).value())) {
    auto group = InProcessGroup::create(tp);
    for (int r = 0; r < tp; ++r)
      comms_.push_back(tp == 1 ? std::make_unique<LocalCommunicator>() : group->communicator(r));
    statuses_.resize(tp);
    for (int r = 0; r < tp; ++r)
      threads_.emplace_back([this, r, tp, model_dir] {
        const WorkerOptions options{.model_dir = model_dir,
                                    .engine = small_cache(),
                                    .threads = 1,
                                    .channel = {.heartbeat_interval = 50ms},
                                    .connect_timeout = 10s,
                                    // The watchdog ends the process: far beyond any wait in these tests.
                                    .orphan_grace = 600s};
        statuses_[r] = run_worker({.world_rank = 1 + r, .replica = 0, .tp_rank = r, .tp_size = tp, .host = "localhost"},
                                  "127.0.0.1", listener_->port(), *comms_[r], options);
      });
    auto links = gather_workers(*listener_, {.tp = tp,
                                             .dp = 1,
                                             .hosts = std::vector<std::string>(1 + tp, "localhost"),
                                             .coordinator_address = "127.0.0.1"});
    gathered_ = links.status();
    if (links.ok()) links_ = std::move(*links);
    for (size_t r = 0; r < links_.size(); ++r) {
      inboxes_.push_back(std::make_shared<Inbox>());
      links_[r].channel->redirect(inboxes_.back(), static_cast<int>(r));
    }
  }
  // Closing the channels tells workers still in their loop that the coordinator is gone.
  ~WorkerThreads() {
    for (const WorkerLink& link : links_) link.channel->close();
    join();
  }

  const Status& gathered() const { return gathered_; }
  const std::vector<WorkerLink>& links() const { return links_; }

  void send_all(const proto::Envelope& message) {
    for (const WorkerLink& link : links_) ASSERT_TRUE(link.channel->send(message).ok());
  }
  // Sends the plan to every rank and returns rank 0's answer.
  Result<std::vector<SequenceOutput>> step(const StepPlan& plan) {
    proto::Envelope message;
    *message.mutable_step_plan() = step_plan_to_proto(plan, ++step_id_);
    for (const WorkerLink& link : links_) MIXSERVE_RETURN_IF_ERROR(link.channel->send(message));
    auto event = inboxes_[0]->pop(Clock::now() + 60s);
    if (!event) return internal_error("no answer");
    if (!event->message) return event->status;
    EXPECT_EQ(event->message->step_result().step_id(), step_id_);
    return step_result_from_proto(event->message->step_result());
  }
  size_t pending_from(int rank) const { return inboxes_[rank]->size(); }
  void shutdown() {
    proto::Envelope message;
    message.mutable_shutdown()->set_reason("test done");
    send_all(message);
  }
  std::vector<Status> join() {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    return statuses_;
  }

 private:
  IoThread io_;
  std::unique_ptr<Listener> listener_;
  std::vector<std::unique_ptr<Communicator>> comms_;
  std::vector<std::thread> threads_;
  std::vector<Status> statuses_;
  Status gathered_;
  std::vector<WorkerLink> links_;
  std::vector<std::shared_ptr<Inbox>> inboxes_;
  uint64_t step_id_ = 0;
};

// Greedy tokens of several prompts decoded together through `step`, one block range per sequence.
template <typename StepFn>
Result<std::vector<std::vector<int32_t>>> greedy_batch(StepFn step, const std::vector<std::vector<int32_t>>& prompts,
                                                       int64_t max_tokens, int block_size) {
  StepPlan plan;
  int32_t next_block = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    SequenceStep s{.seq_id = 100 + i,
                   .tokens = prompts[i],
                   .n_prompt_tokens = static_cast<int64_t>(prompts[i].size()),
                   .sampling = {.temperature = 0.0f, .n_logprobs = 2}};
    const int64_t blocks = (static_cast<int64_t>(prompts[i].size()) + max_tokens + block_size - 1) / block_size;
    for (int64_t b = 0; b < blocks; ++b) s.block_table.push_back(next_block++);
    plan.sequences.push_back(std::move(s));
  }
  std::vector<std::vector<int32_t>> out(prompts.size());
  for (int64_t k = 0; k < max_tokens; ++k) {
    MIXSERVE_ASSIGN_OR_RETURN(auto outputs, step(plan));
    if (outputs.size() != plan.sequences.size()) return internal_error("wrong number of outputs");
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!outputs[i].sample || outputs[i].sample->top_logprobs.size() != 2) return internal_error("no sample");
      out[i].push_back(outputs[i].sample->token);
      plan.sequences[i].start_pos += static_cast<int64_t>(plan.sequences[i].tokens.size());
      plan.sequences[i].tokens = {outputs[i].sample->token};
    }
  }
  return out;
}

std::vector<std::vector<int32_t>> reference_tokens(const std::string& dir,
                                                   const std::vector<std::vector<int32_t>>& prompts,
                                                   int64_t max_tokens) {
  auto engine = test::load_engine(dir, small_cache());
  std::vector<std::vector<int32_t>> out;
  for (const auto& prompt : prompts) {
    GenerateRequest request{.prompt = prompt, .max_tokens = max_tokens, .sampling = {.temperature = 0.0f}};
    auto tokens = generate_tokens(*engine, request);
    EXPECT_TRUE(tokens.ok()) << tokens.status().to_string();
    out.push_back(tokens.ok() ? *tokens : std::vector<int32_t>());
  }
  return out;
}

std::vector<std::vector<int32_t>> some_prompts(int64_t vocab) {
  const auto salt = test::run_seed();
  return {test::some_tokens(13, vocab, salt), test::some_tokens(5, vocab, salt + 1),
          test::some_tokens(30, vocab, salt + 2)};
}

TEST(WorkerMain, ServesGreedyStepsLikeTheSingleProcessEngine) {
  const std::string& dir = test::synth_model_dir("tiny", kSeed);
  for (int tp : {1, 2}) {
    WorkerThreads workers(tp, dir);
    ASSERT_TRUE(workers.gathered().ok()) << workers.gathered().to_string();
    ASSERT_EQ(workers.links().size(), static_cast<size_t>(tp));
    const proto::Capacity& capacity = workers.links()[0].capacity;
    EXPECT_EQ(capacity.n_kv_blocks(), 1024 / 16);
    EXPECT_EQ(capacity.block_size(), 16);
    EXPECT_EQ(capacity.max_model_len(), 4096);
    EXPECT_GT(capacity.kv_cache_bytes(), 0);
    EXPECT_GT(capacity.weight_bytes(), 0);
    const auto prompts = some_prompts(capacity.vocab_size());
    auto tokens = greedy_batch([&](const StepPlan& p) { return workers.step(p); }, prompts, 12, 16);
    ASSERT_TRUE(tokens.ok()) << tokens.status().to_string();
    EXPECT_EQ(*tokens, reference_tokens(dir, prompts, 12)) << "tp=" << tp;
    EXPECT_EQ(workers.pending_from(tp - 1), 0u);  // other ranks stay quiet while all is well
    proto::Envelope release;
    for (uint64_t id : {100, 101, 102}) release.mutable_release()->add_seq_ids(id);
    workers.send_all(release);
    // The released sequences are forgotten: planning one again from position 5 is refused by every rank,
    // and rank 0 says why.
    StepPlan stale{.sequences = {{.seq_id = 100, .tokens = {1}, .start_pos = 5, .block_table = {0}}}};
    auto refused = workers.step(stale);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), StatusCode::invalid_argument) << refused.status().to_string();
    workers.shutdown();
    for (const Status& s : workers.join()) EXPECT_TRUE(s.ok()) << s.to_string();
  }
}

TEST(WorkerMain, ReportsALoadFailureInReadyAndStops) {
  test::TempDir empty;
  WorkerThreads workers(1, empty.path());
  ASSERT_FALSE(workers.gathered().ok());
  EXPECT_NE(workers.gathered().message().find("rank 1 (replica 0, tp 0) on localhost"), std::string::npos)
      << workers.gathered().message();
  EXPECT_NE(workers.gathered().message().find("could not load the model"), std::string::npos);
  const auto statuses = workers.join();
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_FALSE(statuses[0].ok());
}

TEST(WorkerMain, LeavesTheLoopWhenTheCoordinatorGoes) {
  WorkerThreads workers(1, test::synth_model_dir("tiny", kSeed));
  ASSERT_TRUE(workers.gathered().ok()) << workers.gathered().to_string();
  const auto start = Clock::now();
  workers.links()[0].channel->close();
  const auto statuses = workers.join();
  EXPECT_LT(Clock::now() - start, 5s);
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].code(), StatusCode::unavailable);
  EXPECT_NE(statuses[0].message().find("the coordinator at 127.0.0.1"), std::string::npos) << statuses[0].message();
}

}  // namespace
}  // namespace mixserve
