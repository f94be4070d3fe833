#pragma once
// A framed, heartbeating TCP channel between the coordinator and one worker rank (frames: comm/frame.h).
//
// Socket work happens on an IoThread: reads run continuously and hand each message to an Inbox; a frame sent
// while nothing is queued is written at once on the sender's thread (one thread hop less per plan and per
// result), anything else is queued and written in order by the I/O thread; a timer sends a Heartbeat every
// heartbeat_interval and declares the channel lost when no frame at all has arrived for peer_timeout, or when a queued
// frame has not been written for write_timeout (a peer that stopped reading). Heartbeats are consumed here and never
// reach the inbox. A lost channel pushes one event (message absent, status naming the peer) to its inbox; messages that
// arrived before the loss are delivered first.
//
// Thread-safety: send, receive, close and the accessors may be called from any thread. receive() is for a
// channel with its own inbox (created without one); channels sharing an inbox are read through the inbox.
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "comm/frame.h"
#include "comm/inbox.h"
#include "core/status.h"

namespace mixserve {

struct ChannelOptions {
  std::string peer_name = "peer";  // in every error: "rank 2 (host-a, pid 4242)"
  std::chrono::milliseconds heartbeat_interval{500};
  std::chrono::milliseconds peer_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  uint32_t max_frame_bytes = kDefaultMaxFrameBytes;
};

class Channel : public std::enable_shared_from_this<Channel> {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using Clock = std::chrono::steady_clock;

  // Takes a connected socket bound to an IoThread's context and starts reading and heartbeating there. Events
  // go to `inbox` tagged with `source`; with no inbox the channel makes its own, read with receive().
  static std::shared_ptr<Channel> start(Socket socket, ChannelOptions options, std::shared_ptr<Inbox> inbox = nullptr,
                                        int source = 0);
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Queues one frame and returns at once; fails only when the channel is already lost or closed.
  Status send(const proto::Envelope& message);
  // Queues an encoded frame (encode_frame); one frame can be shared by the channels of a tensor group.
  Status send_frame(std::shared_ptr<const std::string> frame);
  // The next message; nullopt when none arrived within `timeout`; the channel's Status once it is lost.
  Result<std::optional<proto::Envelope>> receive(std::chrono::milliseconds timeout);

  // Later events go to `inbox` as `source` (the coordinator moves a worker from its bootstrap inbox to its
  // replica's once the worker has said who it is).
  void redirect(std::shared_ptr<Inbox> inbox, int source);
  void set_peer_name(std::string name);
  std::string peer_name() const;

  bool lost() const;
  Status status() const;  // ok while the channel is open
  // Writes what is queued, then closes the socket; later sends fail. A local close pushes no loss event.
  void close();
  // Waits until the socket is closed (after close() or a loss); false on timeout.
  bool wait_closed(std::chrono::milliseconds timeout);

  uint64_t frames_received() const;  // every frame, heartbeats included
  uint64_t heartbeats_received() const;

 private:
  Channel(Socket socket, ChannelOptions options, std::shared_ptr<Inbox> inbox, int source);
  // The rest runs on the I/O thread only.
  void read_header();
  void read_payload(uint32_t n_bytes);
  void on_frame();
  void enqueue(std::shared_ptr<const std::string> frame);  // any thread
  void write_next();
  void arm_heartbeat();
  void on_heartbeat_tick();
  void fail(Status status);
  void shut_socket();

  Socket socket_;
  boost::asio::steady_timer timer_;
  const ChannelOptions options_;
  std::array<uint8_t, kFrameHeaderBytes> header_{};
  std::string payload_;
  Clock::time_point last_received_;
  uint64_t heartbeat_sequence_ = 0;

  std::mutex write_mutex_;  // guards the write state below and the descriptor against closing during a send
  std::deque<std::shared_ptr<const std::string>> write_queue_;
  size_t front_offset_ = 0;  // bytes of the queue's front already written
  bool writing_ = false;     // the I/O thread owns writing until the queue is empty
  bool closing_ = false;     // close() reached the I/O thread: shut the socket once the queue is empty
  bool write_open_ = true;
  Clock::time_point write_started_;

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable closed_cv_;
  const bool own_inbox_;
  std::shared_ptr<Inbox> inbox_;
  int source_;
  std::string peer_name_;
  Status status_;  // not ok once lost or closed
  bool close_requested_ = false;
  bool socket_closed_ = false;
  uint64_t frames_received_ = 0;
  uint64_t heartbeats_received_ = 0;
};

}  // namespace mixserve
