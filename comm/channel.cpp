#include "comm/channel.h"

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>

#include "core/check.h"

namespace mixserve {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

long long millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

Channel::Channel(Socket socket, ChannelOptions options, std::shared_ptr<Inbox> inbox, int source)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      options_(std::move(options)),
      own_inbox_(inbox == nullptr),
      inbox_(inbox ? std::move(inbox) : std::make_shared<Inbox>()),
      source_(source),
      peer_name_(options_.peer_name) {}

std::shared_ptr<Channel> Channel::start(Socket socket, ChannelOptions options, std::shared_ptr<Inbox> inbox,
                                        int source) {
  std::shared_ptr<Channel> channel(new Channel(std::move(socket), std::move(options), std::move(inbox), source));
  // Set before anyone can send: plans and results are small and latency-bound, so no Nagle delay; keepalive
  // catches a vanished host even if heartbeats were configured off.
  error_code ignored;
  channel->socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  channel->socket_.set_option(asio::socket_base::keep_alive(true), ignored);
  asio::post(channel->socket_.get_executor(), [channel] {
    channel->last_received_ = Clock::now();
    channel->read_header();
    channel->arm_heartbeat();
  });
  return channel;
}

Status Channel::send(const proto::Envelope& message) {
  return send_frame(std::make_shared<const std::string>(encode_frame(message)));
}

Status Channel::send_frame(std::shared_ptr<const std::string> frame) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!status_.ok()) return status_;
    if (close_requested_) return unavailable("channel to " + peer_name_ + " is closed");
  }
  enqueue(std::move(frame));
  return {};
}

Result<std::optional<proto::Envelope>> Channel::receive(std::chrono::milliseconds timeout) {
  MIXSERVE_CHECK(own_inbox_);
  const auto deadline = Clock::now() + timeout;
  // Messages that arrived before a loss come first; once the loss event is consumed, status() answers.
  auto event = inbox_->try_pop();
  if (!event) {
    if (lost()) return status();
    event = inbox_->pop(deadline);
  }
  if (!event) return std::optional<proto::Envelope>();
  if (!event->message) return event->status;
  return std::optional<proto::Envelope>(std::move(*event->message));
}

void Channel::redirect(std::shared_ptr<Inbox> inbox, int source) {
  std::lock_guard<std::mutex> lock(mutex_);
  inbox_ = std::move(inbox);
  source_ = source;
}

void Channel::set_peer_name(std::string name) {
  std::lock_guard<std::mutex> lock(mutex_);
  peer_name_ = std::move(name);
}

std::string Channel::peer_name() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return peer_name_;
}

bool Channel::lost() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !status_.ok();
}

Status Channel::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (status_.ok() && close_requested_) return unavailable("channel to " + peer_name_ + " is closed");
  return status_;
}

void Channel::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (close_requested_) return;
    close_requested_ = true;
  }
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    bool idle = false;
    {
      std::lock_guard<std::mutex> lock(self->write_mutex_);
      self->closing_ = true;
      idle = !self->writing_;
    }
    if (idle) self->shut_socket();
  });
}

bool Channel::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return closed_cv_.wait_for(lock, timeout, [&] { return socket_closed_; });
}

uint64_t Channel::frames_received() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return frames_received_;
}

uint64_t Channel::heartbeats_received() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return heartbeats_received_;
}

void Channel::read_header() {
  asio::async_read(socket_, asio::buffer(header_), [self = shared_from_this()](error_code ec, size_t) {
    if (ec)
      return self->fail(ec == asio::error::eof
                            ? unavailable("connection closed by " + self->peer_name())
                            : unavailable("connection to " + self->peer_name() + " failed: " + ec.message()));
    const uint32_t n = decode_frame_header(self->header_);
    const Status size_ok = check_frame_size(n, self->options_.max_frame_bytes, self->peer_name());
    if (!size_ok.ok()) return self->fail(size_ok);
    self->read_payload(n);
  });
}

void Channel::read_payload(uint32_t n_bytes) {
  payload_.resize(n_bytes);
  asio::async_read(socket_, asio::buffer(payload_), [self = shared_from_this()](error_code ec, size_t) {
    if (ec)
      return self->fail(unavailable("connection to " + self->peer_name() + " broke inside a frame: " + ec.message()));
    self->on_frame();
  });
}

void Channel::on_frame() {
  last_received_ = Clock::now();
  auto message = parse_envelope(payload_, peer_name());
  if (!message.ok()) return fail(message.status());
  std::shared_ptr<Inbox> inbox;
  int source = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++frames_received_;
    if (message->has_heartbeat()) ++heartbeats_received_;
    inbox = inbox_;
    source = source_;
  }
  if (!message->has_heartbeat()) inbox->push({.source = source, .message = std::move(*message)});
  read_header();
}

// Any thread. The fast path writes the frame on the caller's thread when nothing is queued, saving the hop to
// the I/O thread on every plan and result; what the socket does not take at once is queued for the I/O thread.
// write_mutex_ orders the two paths and keeps the socket from being closed under a direct send.
void Channel::enqueue(std::shared_ptr<const std::string> frame) {
  std::unique_lock<std::mutex> lock(write_mutex_);
  if (closing_ || !write_open_) return;
  if (!writing_) {
    size_t sent = 0;
    while (sent < frame->size()) {
      const ssize_t n =
          ::send(socket_.native_handle(), frame->data() + sent, frame->size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        const std::string reason = n < 0 ? std::strerror(errno) : "nothing written";
        lock.unlock();
        asio::post(socket_.get_executor(), [self = shared_from_this(), reason] {
          self->fail(unavailable("write to " + self->peer_name() + " failed: " + reason));
        });
        return;
      }
    }
    if (sent == frame->size()) return;
    front_offset_ = sent;
  }
  write_queue_.push_back(std::move(frame));
  if (writing_) return;
  writing_ = true;
  write_started_ = Clock::now();
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->write_next(); });
}

void Channel::write_next() {
  std::shared_ptr<const std::string> frame;
  size_t offset = 0;
  bool shut = false;
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    if (write_queue_.empty()) {
      writing_ = false;
      shut = closing_;
    } else {
      frame = write_queue_.front();
      offset = front_offset_;
      write_started_ = Clock::now();
    }
  }
  if (!frame) {
    if (shut) shut_socket();
    return;
  }
  asio::async_write(socket_, asio::buffer(frame->data() + offset, frame->size() - offset),
                    [self = shared_from_this(), frame](error_code ec, size_t) {
                      if (ec)
                        return self->fail(unavailable("write to " + self->peer_name() + " failed: " + ec.message()));
                      {
                        std::lock_guard<std::mutex> lock(self->write_mutex_);
                        self->write_queue_.pop_front();
                        self->front_offset_ = 0;
                      }
                      self->write_next();
                    });
}

void Channel::arm_heartbeat() {
  timer_.expires_after(options_.heartbeat_interval);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->on_heartbeat_tick();
  });
}

void Channel::on_heartbeat_tick() {
  if (!socket_.is_open()) return;
  const auto now = Clock::now();
  if (now - last_received_ > options_.peer_timeout)
    return fail(unavailable("no frame from " + peer_name() + " for " + std::to_string(millis(now - last_received_)) +
                            " ms (peer timeout " + std::to_string(options_.peer_timeout.count()) + " ms)"));
  bool writing = false, closing = false;
  Clock::time_point write_started;
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    writing = writing_;
    closing = closing_;
    write_started = write_started_;
  }
  if (writing && now - write_started > options_.write_timeout)
    return fail(unavailable(peer_name() + " has not read a frame for " + std::to_string(millis(now - write_started)) +
                            " ms (write timeout)"));
  // A heartbeat queued behind a frame still in flight would say nothing new.
  if (!writing && !closing) {
    proto::Envelope beat;
    beat.mutable_heartbeat()->set_sequence(++heartbeat_sequence_);
    enqueue(std::make_shared<const std::string>(encode_frame(beat)));
  }
  arm_heartbeat();
}

void Channel::fail(Status status) {
  std::shared_ptr<Inbox> inbox;
  int source = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!status_.ok() || socket_closed_) return;  // the first cause is the one reported
    status_ = status;
    inbox = inbox_;
    source = source_;
    if (close_requested_) inbox.reset();  // we were closing anyway: not news for the owner
  }
  // Not logged here: the owner knows whether a loss is news (a dead worker) or expected (after Shutdown).
  shut_socket();
  if (inbox) inbox->push({.source = source, .message = std::nullopt, .status = std::move(status)});
}

void Channel::shut_socket() {
  error_code ignored;
  timer_.cancel();
  {
    // Under the write lock, so no other thread is inside a direct send on this descriptor.
    std::lock_guard<std::mutex> lock(write_mutex_);
    write_open_ = false;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
    write_queue_.clear();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    socket_closed_ = true;
  }
  closed_cv_.notify_all();
}

}  // namespace mixserve
