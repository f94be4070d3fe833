#pragma once
// A thread-safe queue of what arrives on one or more channels: messages, and the loss of a channel. The
// RemoteReplica gives all channels of its tensor group one inbox, so a single wait sees rank 0's StepResult
// and the death of any other rank, whichever comes first.
// Thread-safety: push from any thread (channels push from their I/O thread); pop from any thread.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "comm/proto/mixserve.pb.h"
#include "core/status.h"

namespace mixserve {

struct InboxEvent {
  int source = 0;                          // the index the channel was given (a rank, a connection number)
  std::optional<proto::Envelope> message;  // absent: the channel was lost and `status` says why
  Status status;
};

class Inbox {
 public:
  using Clock = std::chrono::steady_clock;

  void push(InboxEvent event);
  // The oldest event, waiting until `deadline`; nullopt when none arrived by then.
  std::optional<InboxEvent> pop(Clock::time_point deadline);
  std::optional<InboxEvent> try_pop() { return pop(Clock::time_point::min()); }
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<InboxEvent> events_;
};

}  // namespace mixserve
