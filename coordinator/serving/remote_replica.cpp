#include "coordinator/serving/remote_replica.h"

#include "comm/frame.h"
#include "comm/step_plan_convert.h"
#include "core/log.h"

namespace mixserve {

namespace {

using Clock = std::chrono::steady_clock;

// Errors that Executor::step returns before any collective, identically on every rank: the plan was refused
// and the ranks are still in lockstep, so the replica stays up.
bool is_plan_rejection(StatusCode code) {
  return code == StatusCode::invalid_argument || code == StatusCode::out_of_range ||
         code == StatusCode::resource_exhausted;
}

}  // namespace

Result<ReplicaCapacity> replica_capacity(const std::vector<WorkerLink>& links) {
  if (links.empty()) return invalid_argument("a replica needs at least one rank");
  const proto::Capacity& first = links[0].capacity;
  for (const WorkerLink& link : links) {
    const proto::Capacity& c = link.capacity;
    if (c.n_kv_blocks() != first.n_kv_blocks() || c.block_size() != first.block_size() ||
        c.max_model_len() != first.max_model_len() || c.vocab_size() != first.vocab_size())
      return invalid_argument("rank " + std::to_string(link.world_rank) + " reports " +
                              std::to_string(c.n_kv_blocks()) + " KV blocks of " + std::to_string(c.block_size()) +
                              " tokens, rank " + std::to_string(links[0].world_rank) + " " +
                              std::to_string(first.n_kv_blocks()) + " of " + std::to_string(first.block_size()));
  }
  return ReplicaCapacity{.n_kv_blocks = first.n_kv_blocks(),
                         .block_size = first.block_size(),
                         .max_model_len = first.max_model_len(),
                         .vocab_size = first.vocab_size()};
}

Result<std::unique_ptr<RemoteReplica>> RemoteReplica::create(int index, std::vector<WorkerLink> links,
                                                             const RemoteReplicaOptions& options,
                                                             std::shared_ptr<void> keepalive) {
  for (size_t i = 0; i < links.size(); ++i)
    if (links[i].tp_rank != static_cast<int>(i) || links[i].replica != index)
      return invalid_argument("replica " + std::to_string(index) + ": links are not its ranks in tensor order");
  MIXSERVE_ASSIGN_OR_RETURN(ReplicaCapacity capacity, replica_capacity(links));
  return std::unique_ptr<RemoteReplica>(
      new RemoteReplica(index, std::move(links), capacity, options, std::move(keepalive)));
}

RemoteReplica::RemoteReplica(int index, std::vector<WorkerLink> links, ReplicaCapacity capacity,
                             const RemoteReplicaOptions& options, std::shared_ptr<void> keepalive)
    : keepalive_(std::move(keepalive)),
      index_(index),
      links_(std::move(links)),
      capacity_(capacity),
      options_(options),
      inbox_(std::make_shared<Inbox>()) {
  for (const WorkerLink& link : links_) {
    link.channel->redirect(inbox_, link.tp_rank);
    // A loss that happened before the redirect went to the bootstrap inbox; the channel still knows it.
    if (link.channel->lost()) (void)lose(link.channel->status());
  }
}

RemoteReplica::~RemoteReplica() {
  proto::Envelope shutdown;
  shutdown.mutable_shutdown()->set_reason("the coordinator is shutting down");
  const auto frame = std::make_shared<const std::string>(encode_frame(shutdown));
  for (const WorkerLink& link : links_) {
    (void)link.channel->send_frame(frame);
    link.channel->close();
  }
  const auto deadline = Clock::now() + options_.shutdown_timeout;
  for (const WorkerLink& link : links_)
    link.channel->wait_closed(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max(Clock::duration::zero(), deadline - Clock::now())));
}

Result<std::vector<SequenceOutput>> RemoteReplica::execute(const StepPlan& plan) {
  MIXSERVE_RETURN_IF_ERROR(lost_status());
  const auto start = Clock::now();
  const uint64_t step_id = next_step_id_++;
  proto::Envelope message;
  *message.mutable_step_plan() = step_plan_to_proto(plan, step_id);
  MIXSERVE_RETURN_IF_ERROR(send_to_all(std::make_shared<const std::string>(encode_frame(message))));
  auto result = await_result(step_id);
  if (result.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    timing_.wall_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
  }
  return result;
}

Status RemoteReplica::release(const std::vector<uint64_t>& seq_ids) {
  MIXSERVE_RETURN_IF_ERROR(lost_status());
  proto::Envelope message;
  message.mutable_release()->mutable_seq_ids()->Add(seq_ids.begin(), seq_ids.end());
  return send_to_all(std::make_shared<const std::string>(encode_frame(message)));
}

std::string RemoteReplica::describe() const {
  std::string text = "replica " + std::to_string(index_) + ":";
  for (size_t i = 0; i < links_.size(); ++i) text += (i ? ", " : " ") + links_[i].channel->peer_name();
  return text;
}

Status RemoteReplica::lost_status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lost_;
}

StepTiming RemoteReplica::last_step_timing() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return timing_;
}

Status RemoteReplica::send_to_all(std::shared_ptr<const std::string> frame) {
  for (const WorkerLink& link : links_) {
    const Status sent = link.channel->send_frame(frame);
    if (!sent.ok()) return lose(sent);
  }
  return {};
}

Result<std::vector<SequenceOutput>> RemoteReplica::await_result(uint64_t step_id) {
  const auto deadline = Clock::now() + options_.step_timeout;
  for (;;) {
    auto event = inbox_->pop(deadline);
    if (!event)
      return lose(unavailable(links_[0].channel->peer_name() + " did not answer step " + std::to_string(step_id) +
                              " within " + std::to_string(options_.step_timeout.count()) + " ms"));
    Result<std::vector<SequenceOutput>> result = std::vector<SequenceOutput>();
    MIXSERVE_ASSIGN_OR_RETURN(const bool done, on_event(*event, step_id, &result));
    if (done) return result;
  }
}

Result<bool> RemoteReplica::on_event(const InboxEvent& event, uint64_t step_id,
                                     Result<std::vector<SequenceOutput>>* result) {
  const WorkerLink& from = links_.at(event.source);
  if (!event.message) return lose(event.status);
  if (!event.message->has_step_result()) {
    LOG_WARN("replica", from.channel->peer_name() << " sent an unexpected " << envelope_kind(*event.message));
    return false;
  }
  const proto::StepResult& wire = event.message->step_result();
  if (wire.step_id() != step_id) return false;  // the late twin of an earlier rejected plan
  auto outputs = step_result_from_proto(wire);
  if (!outputs.ok() && !is_plan_rejection(outputs.status().code()))
    return lose(outputs.status().with_context(from.channel->peer_name() + " failed step " + std::to_string(step_id)));
  // Other ranks report only failures; a rejected plan is rejected by rank 0 too, whose answer decides.
  if (event.source != 0) return false;
  if (outputs.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    timing_.compute_us = wire.compute_us();
  }
  *result = std::move(outputs);
  return true;
}

Status RemoteReplica::lose(const Status& cause) {
  Status status;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!lost_.ok()) return lost_;
    lost_ = Status(StatusCode::unavailable, "replica " + std::to_string(index_) + " lost: " + cause.message());
    status = lost_;
  }
  LOG_ERROR("replica", status.message());
  // Closing tells the surviving ranks (possibly blocked in a collective with the dead one) to exit.
  for (const WorkerLink& link : links_) link.channel->close();
  return status;
}

}  // namespace mixserve
