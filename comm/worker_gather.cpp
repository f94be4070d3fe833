#include "comm/worker_gather.h"

#include <map>

#include "comm/rank_layout.h"
#include "core/log.h"

namespace mixserve {

namespace {

using Clock = std::chrono::steady_clock;

struct Pending {
  std::shared_ptr<Channel> channel;
  int world_rank = -1;  // -1 until its Hello arrives
};

class Gathering {
 public:
  Gathering(Listener& listener, const GatherOptions& options)
      : listener_(listener),
        options_(options),
        n_workers_(options.tp * options.dp),
        inbox_(std::make_shared<Inbox>()) {}

  Result<std::vector<WorkerLink>> run();

 private:
  Status accept_all(Clock::time_point deadline);
  Status handle(const InboxEvent& event);
  Status on_hello(int source, const proto::Hello& hello);
  Status on_ready(int source, const proto::Ready& ready);
  std::string missing(bool want_ready) const;
  void close_all(const std::string& reason);

  Listener& listener_;
  const GatherOptions& options_;
  const int n_workers_;
  std::shared_ptr<Inbox> inbox_;
  std::vector<Pending> pending_;     // by connection (the inbox source)
  std::map<int, WorkerLink> links_;  // by world rank, once a Hello arrived
  std::map<int, bool> ready_;        // by world rank
};

Result<std::vector<WorkerLink>> Gathering::run() {
  const auto connect_deadline = Clock::now() + options_.connect_timeout;
  Status status = accept_all(connect_deadline);
  // Connected workers say Hello at once; wait for the stragglers among them until the same deadline.
  while (status.ok() && static_cast<int>(links_.size()) < n_workers_) {
    auto event = inbox_->pop(connect_deadline);
    if (!event) break;
    status = handle(*event);
  }
  if (status.ok() && static_cast<int>(links_.size()) < n_workers_)
    status = unavailable(missing(false) + " did not connect to the coordinator at " + options_.coordinator_address +
                         " within " + std::to_string(options_.connect_timeout.count()) +
                         " ms; check that those hosts can reach it (firewall, interface: --coordinator-host)");
  const auto load_deadline = Clock::now() + options_.load_timeout;
  while (status.ok() && static_cast<int>(ready_.size()) < n_workers_) {
    auto event = inbox_->pop(load_deadline);
    if (!event) {
      status = unavailable(missing(true) + " did not finish loading the model within " +
                           std::to_string(options_.load_timeout.count()) + " ms");
      break;
    }
    status = handle(*event);
  }
  if (!status.ok()) {
    close_all(status.message());
    return status.with_context("bootstrap");
  }
  std::vector<WorkerLink> links;
  for (auto& [rank, link] : links_) links.push_back(std::move(link));
  return links;
}

Status Gathering::accept_all(Clock::time_point deadline) {
  while (static_cast<int>(pending_.size()) < n_workers_) {
    MIXSERVE_ASSIGN_OR_RETURN(auto socket, listener_.accept(deadline));
    if (!socket) return {};  // the deadline passed; run() names who is missing
    ChannelOptions channel_options = options_.channel;
    boost::system::error_code ec;
    const auto remote = socket->remote_endpoint(ec);
    channel_options.peer_name =
        "a worker connecting from " + (ec ? std::string("an unknown address") : remote.address().to_string());
    const int source = static_cast<int>(pending_.size());
    pending_.push_back({.channel = Channel::start(std::move(*socket), channel_options, inbox_, source)});
    // Handle Hellos as they come so a bad one fails fast.
    while (auto event = inbox_->try_pop()) MIXSERVE_RETURN_IF_ERROR(handle(*event));
  }
  return {};
}

Status Gathering::handle(const InboxEvent& event) {
  const Pending& from = pending_.at(event.source);
  if (!event.message) return event.status;
  if (event.message->has_hello()) return on_hello(event.source, event.message->hello());
  if (event.message->has_ready()) return on_ready(event.source, event.message->ready());
  return invalid_argument(from.channel->peer_name() + " sent " + envelope_kind(*event.message) + " during bootstrap");
}

Status Gathering::on_hello(int source, const proto::Hello& hello) {
  Pending& from = pending_[source];
  const int rank = hello.world_rank();
  if (from.world_rank >= 0) return invalid_argument(from.channel->peer_name() + " said Hello twice");
  if (rank < 1 || rank > n_workers_)
    return invalid_argument(from.channel->peer_name() + " claims world rank " + std::to_string(rank) + ", outside 1.." +
                            std::to_string(n_workers_));
  if (links_.count(rank)) return invalid_argument("two workers claim world rank " + std::to_string(rank));
  const int w = rank - 1;
  if (hello.replica() != w / options_.tp || hello.tp_rank() != w % options_.tp || hello.tp_size() != options_.tp)
    return invalid_argument("rank " + std::to_string(rank) + " has replica " + std::to_string(hello.replica()) +
                            " tp " + std::to_string(hello.tp_rank()) + "/" + std::to_string(hello.tp_size()) +
                            "; expected replica " + std::to_string(w / options_.tp) + " tp " +
                            std::to_string(w % options_.tp) + "/" + std::to_string(options_.tp) +
                            " (were all ranks started with the same --tp and --dp?)");
  from.world_rank = rank;
  from.channel->set_peer_name(worker_peer_name(rank, options_.tp, hello.host(), hello.pid()));
  links_[rank] = {.world_rank = rank,
                  .replica = hello.replica(),
                  .tp_rank = hello.tp_rank(),
                  .host = hello.host(),
                  .pid = hello.pid(),
                  .channel = from.channel};
  LOG_INFO("bootstrap", from.channel->peer_name() << " connected");
  return {};
}

Status Gathering::on_ready(int source, const proto::Ready& ready) {
  const Pending& from = pending_[source];
  if (from.world_rank < 0) return invalid_argument(from.channel->peer_name() + " sent Ready before Hello");
  if (!ready.error().empty())
    return unavailable(from.channel->peer_name() + " could not load the model: " + ready.error());
  WorkerLink& link = links_[from.world_rank];
  link.capacity = ready.capacity();
  link.summary = ready.summary();
  ready_[from.world_rank] = true;
  LOG_INFO("bootstrap", from.channel->peer_name() << " ready: " << ready.summary());
  return {};
}

std::string Gathering::missing(bool want_ready) const {
  std::string names;
  int count = 0;
  for (int rank = 1; rank <= n_workers_; ++rank) {
    const bool done = want_ready ? ready_.count(rank) > 0 : links_.count(rank) > 0;
    if (done) continue;
    if (count++) names += ", ";
    const std::string host = rank < static_cast<int>(options_.hosts.size()) ? options_.hosts[rank] : "an unknown host";
    names += describe_worker_rank(rank, options_.tp, host);
  }
  return names;
}

void Gathering::close_all(const std::string& reason) {
  proto::Envelope shutdown;
  shutdown.mutable_shutdown()->set_reason(reason);
  for (const Pending& p : pending_) {
    (void)p.channel->send(shutdown);
    p.channel->close();
  }
  for (const Pending& p : pending_) p.channel->wait_closed(std::chrono::milliseconds(1000));
}

}  // namespace

Result<std::vector<WorkerLink>> gather_workers(Listener& listener, const GatherOptions& options) {
  return Gathering(listener, options).run();
}

std::string worker_peer_name(int world_rank, int tp, const std::string& host, int pid) {
  return describe_worker_rank(world_rank, tp, host) + ", pid " + std::to_string(pid);
}

}  // namespace mixserve
