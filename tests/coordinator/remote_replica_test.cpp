// Bootstrap gathering and RemoteReplica against scripted worker ranks (threads speaking the real protocol
// over loopback): plans reach every rank, rank 0 answers, and every way of losing a rank fails the replica
// with a Status naming the rank, host and pid, in bounded time.
#include "coordinator/serving/remote_replica.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "comm/rank_layout.h"
#include "comm/step_plan_convert.h"
#include "comm/tcp_connect.h"
#include "comm/worker_gather.h"
#include "comm_test_util.h"
#include "test_support.h"

namespace mixserve {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Script {
  int world_rank = 1;
  int tp = 2;
  std::string host = "fake-host";
  int64_t n_kv_blocks = 100;
  std::string load_error;       // Ready carries this error
  uint64_t close_at_step = 0;   // closes its channel when this step arrives, without answering
  uint64_t silent_at_step = 0;  // does not answer this step (keeps heartbeating)
  uint64_t reject_at_step = 0;  // answers invalid_argument (as every rank would for a bad plan)
  uint64_t fail_at_step = 0;    // answers unavailable (a failure after the collectives began)
};

// The token a scripted rank 0 "samples": a function of the plan, so the test knows what to expect.
int32_t fake_token(const SequenceStep& s) {
  int64_t sum = static_cast<int64_t>(s.seq_id);
  for (int32_t t : s.tokens) sum += t;
  return static_cast<int32_t>(sum % 1000);
}

class FakeRank {
 public:
  FakeRank(IoThread& io, uint16_t port, Script script) : script_(std::move(script)) {
    thread_ = std::thread([this, &io, port] { run(io, port); });
  }
  ~FakeRank() {
    stop_ = true;
    join();
  }
  // Waits for the rank to leave on its own: Shutdown, or its channel lost.
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  std::vector<std::string> plans() {
    std::lock_guard<std::mutex> lock(mutex_);
    return plans_;
  }
  std::vector<uint64_t> released() {
    std::lock_guard<std::mutex> lock(mutex_);
    return released_;
  }
  bool shutdown_seen() const { return shutdown_seen_; }
  bool lost_seen() const { return lost_seen_; }

 private:
  void run(IoThread& io, uint16_t port) {
    auto socket = connect_with_retry(io, "127.0.0.1", port, Clock::now() + 10s);
    if (!socket.ok()) return;
    auto channel = Channel::start(std::move(*socket), ChannelOptions{.peer_name = "coordinator"});
    const int w = script_.world_rank - 1;
    proto::Envelope hello;
    hello.mutable_hello()->set_world_rank(script_.world_rank);
    hello.mutable_hello()->set_replica(w / script_.tp);
    hello.mutable_hello()->set_tp_rank(w % script_.tp);
    hello.mutable_hello()->set_tp_size(script_.tp);
    hello.mutable_hello()->set_host(script_.host);
    hello.mutable_hello()->set_pid(getpid());
    (void)channel->send(hello);
    proto::Envelope ready;
    if (!script_.load_error.empty()) ready.mutable_ready()->set_error(script_.load_error);
    ready.mutable_ready()->mutable_capacity()->set_n_kv_blocks(script_.n_kv_blocks);
    ready.mutable_ready()->mutable_capacity()->set_block_size(16);
    ready.mutable_ready()->mutable_capacity()->set_max_model_len(4096);
    ready.mutable_ready()->mutable_capacity()->set_vocab_size(1000);
    (void)channel->send(ready);
    while (!stop_) {
      auto message = channel->receive(20ms);
      if (!message.ok()) {
        lost_seen_ = true;
        return;
      }
      if (!*message) continue;
      if ((*message)->has_shutdown()) {
        shutdown_seen_ = true;
        return;
      }
      if ((*message)->has_release()) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (uint64_t id : (*message)->release().seq_ids()) released_.push_back(id);
      }
      if ((*message)->has_step_plan() && !on_plan(*channel, (*message)->step_plan())) return;
    }
  }

  bool on_plan(Channel& channel, const proto::StepPlan& wire) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      plans_.push_back(wire.SerializeAsString());
    }
    const uint64_t step = wire.step_id();
    if (step == script_.close_at_step) {
      channel.close();
      return false;
    }
    const bool rank0 = (script_.world_rank - 1) % script_.tp == 0;
    proto::Envelope reply;
    if (step == script_.reject_at_step) {
      *reply.mutable_step_result() = step_error_to_proto(step, invalid_argument("token 123456 outside the vocabulary"));
    } else if (step == script_.fail_at_step) {
      *reply.mutable_step_result() = step_error_to_proto(step, unavailable("MPI_Allreduce failed"));
    } else if (step == script_.silent_at_step || !rank0) {
      return true;
    } else {
      std::vector<SequenceOutput> outputs;
      for (const SequenceStep& s : step_plan_from_proto(wire).sequences)
        outputs.push_back({.seq_id = s.seq_id, .sample = cpu::SampleOutput{.token = fake_token(s), .logprob = -1}});
      *reply.mutable_step_result() = step_result_to_proto(step, outputs);
    }
    (void)channel.send(reply);
    return true;
  }

  Script script_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> shutdown_seen_{false};
  std::atomic<bool> lost_seen_{false};
  std::mutex mutex_;
  std::vector<std::string> plans_;
  std::vector<uint64_t> released_;
};

// A coordinator-side fixture: a listener, scripted ranks, and the gathered links.
class Cluster {
 public:
  explicit Cluster(int tp, int dp, std::vector<std::string> hosts = {})
      : tp_(tp), dp_(dp), hosts_(std::move(hosts)), listener_(std::move(Listener::open(io_, "127.0.0.1", 0).value())) {
    if (hosts_.empty()) hosts_.assign(1 + tp * dp, "fake-host");
  }
  void add(Script script) {
    script.tp = tp_;
    ranks_.push_back(std::make_unique<FakeRank>(io_, listener_->port(), std::move(script)));
  }
  Result<std::vector<WorkerLink>> gather(std::chrono::milliseconds connect_timeout = 10s) {
    return gather_workers(*listener_, {.tp = tp_,
                                       .dp = dp_,
                                       .hosts = hosts_,
                                       .coordinator_address = "127.0.0.1:" + std::to_string(listener_->port()),
                                       .channel = {.heartbeat_interval = 20ms, .peer_timeout = 2s},
                                       .connect_timeout = connect_timeout,
                                       .load_timeout = 10s});
  }
  std::unique_ptr<RemoteReplica> replica(const RemoteReplicaOptions& options = {}) {
    auto links = gather();
    EXPECT_TRUE(links.ok()) << links.status().to_string();
    if (!links.ok()) return nullptr;
    auto replica = RemoteReplica::create(0, std::move(*links), options, nullptr);
    EXPECT_TRUE(replica.ok()) << replica.status().to_string();
    return replica.ok() ? std::move(*replica) : nullptr;
  }
  FakeRank& rank(int i) { return *ranks_[i]; }

 private:
  IoThread io_;
  int tp_, dp_;
  std::vector<std::string> hosts_;
  std::unique_ptr<Listener> listener_;
  std::vector<std::unique_ptr<FakeRank>> ranks_;
};

StepPlan some_plan(std::mt19937_64& rng) {
  return test::random_plan(rng, 6, 40);
}

void expect_fake_outputs(const StepPlan& plan, const std::vector<SequenceOutput>& outputs) {
  ASSERT_EQ(outputs.size(), plan.sequences.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    EXPECT_EQ(outputs[i].seq_id, plan.sequences[i].seq_id);
    ASSERT_TRUE(outputs[i].sample);
    EXPECT_EQ(outputs[i].sample->token, fake_token(plan.sequences[i]));
  }
}

TEST(GatherWorkers, CollectsEveryRankInWorldOrderWithItsCapacity) {
  Cluster cluster(2, 2);
  for (int rank : {3, 1, 4, 2})
    cluster.add({.world_rank = rank, .host = "host-" + std::to_string(rank), .n_kv_blocks = 100 + rank});
  auto links = cluster.gather();
  ASSERT_TRUE(links.ok()) << links.status().to_string();
  ASSERT_EQ(links->size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const WorkerLink& link = (*links)[i];
    EXPECT_EQ(link.world_rank, i + 1);
    EXPECT_EQ(link.replica, i / 2);
    EXPECT_EQ(link.tp_rank, i % 2);
    EXPECT_EQ(link.host, "host-" + std::to_string(i + 1));
    EXPECT_EQ(link.pid, getpid());
    EXPECT_EQ(link.capacity.n_kv_blocks(), 101 + i);
    EXPECT_EQ(link.channel->peer_name(),
              describe_worker_rank(i + 1, 2, link.host) + ", pid " + std::to_string(getpid()));
  }
  // Ranks of one replica that disagree on capacity cannot form a replica.
  std::vector<WorkerLink> replica0(links->begin(), links->begin() + 2);
  auto capacity = replica_capacity(replica0);
  ASSERT_FALSE(capacity.ok());
  EXPECT_NE(capacity.status().message().find("rank 2 reports 102 KV blocks"), std::string::npos);
}

TEST(GatherWorkers, NamesTheRankAndHostThatNeverConnected) {
  Cluster cluster(1, 3, {"coord", "host-a", "host-b", "host-c"});
  cluster.add({.world_rank = 1});
  cluster.add({.world_rank = 2});
  const auto start = Clock::now();
  auto links = cluster.gather(300ms);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(links.ok());
  EXPECT_EQ(links.status().code(), StatusCode::unavailable);
  EXPECT_NE(links.status().message().find("rank 3 (replica 2, tp 0) on host-c did not connect to the coordinator "
                                          "at 127.0.0.1:"),
            std::string::npos)
      << links.status().message();
  EXPECT_EQ(links.status().message().find("rank 2"), std::string::npos) << links.status().message();
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 5s);
  // The ranks that did come are told to go.
  cluster.rank(0).join();
  cluster.rank(1).join();
  EXPECT_TRUE(cluster.rank(0).shutdown_seen() || cluster.rank(0).lost_seen());
}

TEST(GatherWorkers, ReportsALoadFailureWithTheRank) {
  Cluster cluster(2, 1);
  cluster.add({.world_rank = 1});
  cluster.add({.world_rank = 2, .host = "node-b", .load_error = "not_found: /models/x/config.json"});
  auto links = cluster.gather();
  ASSERT_FALSE(links.ok());
  EXPECT_NE(links.status().message().find("rank 2 (replica 0, tp 1) on node-b, pid"), std::string::npos);
  EXPECT_NE(links.status().message().find("could not load the model: not_found: /models/x/config.json"),
            std::string::npos)
      << links.status().message();
}

TEST(GatherWorkers, RejectsTwoWorkersClaimingOneRank) {
  Cluster cluster(2, 1);
  cluster.add({.world_rank = 1});
  cluster.add({.world_rank = 1});
  auto links = cluster.gather();
  ASSERT_FALSE(links.ok());
  EXPECT_NE(links.status().message().find("two workers claim world rank 1"), std::string::npos);
}

TEST(RemoteReplica, SendsEachPlanToEveryRankAndReturnsRankZerosOutputs) {
  Cluster cluster(2, 1);
  cluster.add({.world_rank = 1});
  cluster.add({.world_rank = 2});
  auto replica = cluster.replica();
  ASSERT_TRUE(replica);
  EXPECT_EQ(replica->capacity().n_kv_blocks, 100);
  EXPECT_EQ(replica->capacity().block_size, 16);
  EXPECT_NE(replica->describe().find("rank 2 (replica 0, tp 1) on fake-host"), std::string::npos);
  auto rng = test::make_rng(31);
  for (int step = 0; step < 20; ++step) {
    const StepPlan plan = some_plan(rng);
    auto outputs = replica->execute(plan);
    ASSERT_TRUE(outputs.ok()) << outputs.status().to_string();
    expect_fake_outputs(plan, *outputs);
  }
  ASSERT_TRUE(replica->release({7, 8}).ok());
  replica.reset();  // Shutdown to both
  cluster.rank(0).join();
  cluster.rank(1).join();
  EXPECT_EQ(cluster.rank(0).plans().size(), 20u);
  EXPECT_EQ(cluster.rank(0).plans(), cluster.rank(1).plans());  // the same bytes to every rank
  EXPECT_EQ(cluster.rank(1).released(), (std::vector<uint64_t>{7, 8}));
  EXPECT_TRUE(cluster.rank(0).shutdown_seen());
  EXPECT_TRUE(cluster.rank(1).shutdown_seen());
}

TEST(RemoteReplica, ADeadRankFailsTheStepAndEveryLaterCall) {
  Cluster cluster(2, 1);
  cluster.add({.world_rank = 1, .silent_at_step = 3});  // blocked in the collective with its dead peer
  cluster.add({.world_rank = 2, .close_at_step = 3});
  auto replica = cluster.replica();
  ASSERT_TRUE(replica);
  auto rng = test::make_rng(32);
  for (int step = 1; step <= 2; ++step) ASSERT_TRUE(replica->execute(some_plan(rng)).ok());
  const auto start = Clock::now();
  auto failed = replica->execute(some_plan(rng));
  EXPECT_LT(Clock::now() - start, 5s);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::unavailable);
  const std::string expected =
      "replica 0 lost: connection closed by rank 2 (replica 0, tp 1) on fake-host, pid " + std::to_string(getpid());
  EXPECT_EQ(failed.status().message(), expected);
  EXPECT_EQ(replica->lost_status().message(), expected);
  // Later calls fail at once with the same cause; the surviving rank's channel was closed, so it would exit.
  const auto again_start = Clock::now();
  EXPECT_EQ(replica->execute(some_plan(rng)).status().message(), expected);
  EXPECT_EQ(replica->release({1}).message(), expected);
  EXPECT_LT(Clock::now() - again_start, 1s);
  cluster.rank(0).join();
  EXPECT_TRUE(cluster.rank(0).lost_seen());
}

TEST(RemoteReplica, ARankZeroThatStopsAnsweringTimesOut) {
  Cluster cluster(2, 1);
  cluster.add({.world_rank = 1, .silent_at_step = 2});
  cluster.add({.world_rank = 2});
  auto replica = cluster.replica({.step_timeout = 300ms});
  ASSERT_TRUE(replica);
  auto rng = test::make_rng(33);
  ASSERT_TRUE(replica->execute(some_plan(rng)).ok());
  const auto start = Clock::now();
  auto failed = replica->execute(some_plan(rng));
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("rank 1 (replica 0, tp 0) on fake-host"), std::string::npos);
  EXPECT_NE(failed.status().message().find("did not answer step 2 within 300 ms"), std::string::npos)
      << failed.status().message();
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 5s);
}

TEST(RemoteReplica, ARejectedPlanLeavesTheReplicaUp) {
  Cluster cluster(2, 1);
  cluster.add({.world_rank = 1, .reject_at_step = 2});
  cluster.add({.world_rank = 2, .reject_at_step = 2});
  auto replica = cluster.replica();
  ASSERT_TRUE(replica);
  auto rng = test::make_rng(34);
  ASSERT_TRUE(replica->execute(some_plan(rng)).ok());
  auto rejected = replica->execute(some_plan(rng));
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), StatusCode::invalid_argument);
  EXPECT_TRUE(replica->lost_status().ok());
  for (int step = 3; step <= 5; ++step) {  // rank 1's late copy of the rejection is not mistaken for an answer
    const StepPlan plan = some_plan(rng);
    auto outputs = replica->execute(plan);
    ASSERT_TRUE(outputs.ok()) << outputs.status().to_string();
    expect_fake_outputs(plan, *outputs);
  }
}

TEST(RemoteReplica, AFailureReportedByAnotherRankLosesTheReplica) {
  Cluster cluster(2, 1);
  cluster.add({.world_rank = 1, .silent_at_step = 2});
  cluster.add({.world_rank = 2, .fail_at_step = 2});
  auto replica = cluster.replica();
  ASSERT_TRUE(replica);
  auto rng = test::make_rng(35);
  ASSERT_TRUE(replica->execute(some_plan(rng)).ok());
  auto failed = replica->execute(some_plan(rng));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::unavailable);
  EXPECT_NE(failed.status().message().find("rank 2 (replica 0, tp 1) on fake-host"), std::string::npos);
  EXPECT_NE(failed.status().message().find("MPI_Allreduce failed"), std::string::npos) << failed.status().message();
  EXPECT_FALSE(replica->lost_status().ok());
}

}  // namespace
}  // namespace mixserve
