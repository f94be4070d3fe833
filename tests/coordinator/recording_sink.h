#pragma once
// A RequestSink for tests: records every token and finish per choice, and counts finishes so tests can check
// "exactly once". Thread-safe: the engine core calls it from scheduler threads while the test waits on it.
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

#include "coordinator/serving/request.h"

namespace mixserve::test {

class RecordingSink final : public RequestSink {
 public:
  explicit RecordingSink(int n_choices = 1) : choices_(static_cast<size_t>(n_choices)) {}

  void on_tokens(int choice, std::vector<TokenOutput> tokens) override {
    std::lock_guard lock(mutex_);
    for (const TokenOutput& t : tokens) choices_.at(static_cast<size_t>(choice)).tokens.push_back(t.token);
  }
  void on_finished(int choice, FinishReason reason, Status status) override {
    {
      std::lock_guard lock(mutex_);
      Choice& c = choices_.at(static_cast<size_t>(choice));
      ++c.n_finished;
      c.reason = reason;
      c.status = std::move(status);
    }
    cv_.notify_all();
  }

  struct Choice {
    std::vector<int32_t> tokens;
    int n_finished = 0;
    FinishReason reason = FinishReason::error;
    Status status;
  };
  Choice choice(int i) const {
    std::lock_guard lock(mutex_);
    return choices_.at(static_cast<size_t>(i));
  }
  bool done() const {
    std::lock_guard lock(mutex_);
    return done_locked();
  }
  // True when every choice finished within the timeout.
  bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return done_locked(); });
  }

 private:
  bool done_locked() const {
    for (const Choice& c : choices_)
      if (c.n_finished == 0) return false;
    return true;
  }
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::vector<Choice> choices_;
};

}  // namespace mixserve::test
