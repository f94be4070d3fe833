// EngineCore over one Scheduler per replica, each stepping on its own thread, and a Router in front.
#include "coordinator/serving/engine_core.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "coordinator/metrics/serving_metrics.h"
#include "coordinator/scheduler/scheduler.h"
#include "coordinator/serving/router.h"
#include "core/check.h"
#include "core/log.h"

namespace mixserve {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::stop:
      return "stop";
    case FinishReason::length:
      return "length";
    case FinishReason::cancelled:
      return "cancelled";
    case FinishReason::error:
      return "error";
  }
  return "unknown";
}

namespace {

// How long an idle scheduler thread sleeps before looking again; new work and stop() wake it at once.
constexpr std::chrono::milliseconds kIdleWait{100};

class EngineCoreImpl final : public EngineCore {
 public:
  EngineCoreImpl(std::vector<std::unique_ptr<Replica>> replicas, const SchedulerOptions& options,
                 ServingMetrics* metrics, const std::string& model_name)
      : metrics_(metrics), model_name_(model_name), router_(block_size_of(replicas)) {
    for (size_t i = 0; i < replicas.size(); ++i) {
      auto slot = std::make_unique<Slot>();
      slot->replica = std::move(replicas[i]);
      if (metrics_ != nullptr)
        slot->metrics = std::make_unique<ReplicaMetrics>(*metrics_, model_name_, std::to_string(i));
      slot->scheduler = std::make_unique<Scheduler>(
          *slot->replica, options, slot->metrics.get(),
          Scheduler::Hooks{.on_request_done = [this](const std::string& id) { on_request_done(id); },
                           .on_down = [this] { update_replicas_up(); }});
      LOG_INFO("engine", slot->replica->describe()
                             << ": " << slot->scheduler->capacity().n_kv_blocks << " KV blocks of "
                             << slot->scheduler->capacity().block_size << " tokens");
      slots_.push_back(std::move(slot));
    }
    update_replicas_up();
    for (auto& slot : slots_) slot->thread = std::thread([this, s = slot.get()] { run(*s); });
  }

  ~EngineCoreImpl() override { stop(); }

  Status submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) override {
    std::lock_guard lock(mutex_);
    if (draining_) return unavailable("the server is shutting down");
    if (live_.contains(request.request_id))
      return invalid_argument("request id " + request.request_id + " is already in flight");
    std::vector<ReplicaLoad> loads;
    for (const auto& slot : slots_) {
      const SchedulerStats st = slot->scheduler->stats();
      loads.push_back({.up = st.up, .outstanding_tokens = st.outstanding_tokens});
    }
    const int first = router_.pick(request.prompt, loads);
    if (first < 0) return unavailable("no replica is up");
    // The router's choice first; if its queue is full, the others from least to most loaded.
    std::vector<int> order = {first};
    for (size_t i = 0; i < loads.size(); ++i)
      if (loads[i].up && static_cast<int>(i) != first) order.push_back(static_cast<int>(i));
    std::sort(order.begin() + 1, order.end(), [&](int a, int b) {
      return loads[static_cast<size_t>(a)].outstanding_tokens < loads[static_cast<size_t>(b)].outstanding_tokens;
    });
    Status st;
    for (int r : order) {
      live_[request.request_id] = r;  // before submit: the scheduler may finish the request at once
      st = slots_[static_cast<size_t>(r)]->scheduler->submit(request, sink);
      if (st.ok()) {
        router_.record(request.prompt, r);
        return st;
      }
      live_.erase(request.request_id);
      if (st.code() != StatusCode::resource_exhausted && st.code() != StatusCode::unavailable) return st;
    }
    return st;
  }

  void cancel(const std::string& request_id) override { cancel_choice(request_id, -1); }

  void cancel_choice(const std::string& request_id, int choice) override {
    std::lock_guard lock(mutex_);
    const auto it = live_.find(request_id);
    if (it != live_.end()) slots_[static_cast<size_t>(it->second)]->scheduler->cancel(request_id, choice);
  }

  EngineSnapshot snapshot() const override {
    EngineSnapshot snap;
    snap.n_replicas = static_cast<int>(slots_.size());
    int64_t used = 0, total = 0;
    for (const auto& slot : slots_) {
      const SchedulerStats st = slot->scheduler->stats();
      if (!st.up) continue;
      ++snap.n_replicas_up;
      snap.n_running += st.n_running;
      snap.n_waiting += st.n_waiting;
      used += st.n_blocks_used;
      total += st.n_blocks;
    }
    snap.kv_cache_usage = total > 0 ? static_cast<double>(used) / static_cast<double>(total) : 0.0;
    return snap;
  }

  void drain(std::chrono::milliseconds deadline) override {
    {
      std::lock_guard lock(mutex_);
      draining_ = true;
    }
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until && n_live() > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (n_live() > 0) {
      LOG_WARN("engine", "drain deadline passed with " << n_live() << " requests in flight; aborting them");
      for (auto& slot : slots_) slot->scheduler->abort_all_async(unavailable("the server shut down before finishing"));
      // The schedulers abort at their next step; a step in flight finishes first.
      while (n_live() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    stop();
  }

 private:
  struct Slot {
    std::unique_ptr<Replica> replica;
    std::unique_ptr<ReplicaMetrics> metrics;
    std::unique_ptr<Scheduler> scheduler;
    std::thread thread;
  };

  static int block_size_of(const std::vector<std::unique_ptr<Replica>>& replicas) {
    MIXSERVE_CHECK(!replicas.empty());
    const int bs = replicas[0]->capacity().block_size;
    for (const auto& r : replicas) MIXSERVE_CHECK_EQ(r->capacity().block_size, bs);
    return bs;
  }

  void run(Slot& slot) {
    Scheduler& s = *slot.scheduler;
    while (!stopping_.load(std::memory_order_acquire)) {
      if (!s.step()) s.wait_for_work(kIdleWait);
    }
  }

  void stop() {
    if (stopping_.exchange(true)) return;
    for (auto& slot : slots_) slot->scheduler->wake();
    for (auto& slot : slots_) {
      if (slot->thread.joinable()) slot->thread.join();
    }
    // Threads are gone: whatever is still live is finished here, on this thread, so every sink hears once.
    for (auto& slot : slots_) slot->scheduler->abort_all(unavailable("the engine stopped"));
  }

  int64_t n_live() const {
    int64_t n = 0;
    for (const auto& slot : slots_) n += slot->scheduler->stats().n_live_requests;
    return n;
  }

  void on_request_done(const std::string& id) {
    std::lock_guard lock(mutex_);
    live_.erase(id);
  }

  void update_replicas_up() {
    if (metrics_ == nullptr) return;
    std::lock_guard lock(mutex_);  // two replicas going down at once must not leave a stale count
    int up = 0;
    for (const auto& slot : slots_) up += slot->scheduler->up() ? 1 : 0;
    metrics_->num_replicas_up.with({model_name_}).set(up);
  }

  ServingMetrics* const metrics_;
  const std::string model_name_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;  // guards the fields below
  Router router_;
  std::unordered_map<std::string, int> live_;  // request id -> replica
  bool draining_ = false;
};

}  // namespace

std::unique_ptr<EngineCore> make_engine_core(std::vector<std::unique_ptr<Replica>> replicas,
                                             const SchedulerOptions& options) {
  return make_engine_core(std::move(replicas), options, nullptr, "");
}

std::unique_ptr<EngineCore> make_engine_core(std::vector<std::unique_ptr<Replica>> replicas,
                                             const SchedulerOptions& options, ServingMetrics* metrics,
                                             const std::string& model_name) {
  return std::make_unique<EngineCoreImpl>(std::move(replicas), options, metrics, model_name);
}

}  // namespace mixserve
