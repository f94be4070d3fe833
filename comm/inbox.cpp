#include "comm/inbox.h"

namespace mixserve {

void Inbox::push(InboxEvent event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(event));
  }
  ready_.notify_one();
}

std::optional<InboxEvent> Inbox::pop(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!ready_.wait_until(lock, deadline, [&] { return !events_.empty(); })) return std::nullopt;
  InboxEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

size_t Inbox::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_.size();
}

}  // namespace mixserve
