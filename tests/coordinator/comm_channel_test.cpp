// The framed TCP channel over loopback: round trips in both directions, frames split across many reads, the
// frame size limit, timeouts, heartbeats, and how a lost peer is reported.
#include <gtest/gtest.h>

#include <boost/asio/write.hpp>
#include <thread>

#include "comm/channel.h"
#include "comm/tcp_connect.h"
#include "comm_test_util.h"
#include "test_support.h"

namespace mixserve {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::Socket;

ChannelOptions named(const std::string& name) {
  return ChannelOptions{.peer_name = name};
}

proto::Envelope expect_message(Channel& channel, std::chrono::milliseconds timeout = 10s) {
  auto received = channel.receive(timeout);
  EXPECT_TRUE(received.ok()) << received.status().to_string();
  if (!received.ok() || !received->has_value()) {
    ADD_FAILURE() << "no message within " << timeout.count() << " ms";
    return {};
  }
  return std::move(**received);
}

// Blocking writes on a raw socket that is not driven by the io thread: the peer speaks bytes, not frames.
void write_raw(Socket& socket, const void* data, size_t n) {
  boost::system::error_code ec;
  boost::asio::write(socket, boost::asio::buffer(data, n), ec);
  ASSERT_FALSE(ec) << ec.message();
}

TEST(Channel, RoundTripsRandomMessagesBothWays) {
  IoThread io;
  auto [a_socket, b_socket] = test::loopback_pair(io);
  auto a = Channel::start(std::move(a_socket), named("a"));
  auto b = Channel::start(std::move(b_socket), named("b"));
  auto rng = test::make_rng(1);
  std::vector<proto::Envelope> to_b, to_a;
  for (int i = 0; i < 300; ++i) to_b.push_back(test::random_envelope(rng));
  for (int i = 0; i < 300; ++i) to_a.push_back(test::random_envelope(rng));
  std::thread sender([&] {
    for (const auto& m : to_a) ASSERT_TRUE(b->send(m).ok());
  });
  for (const auto& m : to_b) ASSERT_TRUE(a->send(m).ok());
  for (const auto& m : to_b) EXPECT_EQ(expect_message(*b).SerializeAsString(), m.SerializeAsString());
  for (const auto& m : to_a) EXPECT_EQ(expect_message(*a).SerializeAsString(), m.SerializeAsString());
  sender.join();
  EXPECT_FALSE(a->lost());
  EXPECT_FALSE(b->lost());
}

TEST(Channel, ReassemblesFramesSplitAcrossManyReads) {
  IoThread io;
  auto [raw, channel_socket] = test::loopback_pair(io);
  auto channel = Channel::start(std::move(channel_socket), named("raw peer"));
  auto rng = test::make_rng(2);
  std::vector<proto::Envelope> messages;
  std::string bytes;
  for (int i = 0; i < 5; ++i) {
    messages.push_back(test::random_envelope(rng));
    bytes += encode_frame(messages.back());
  }
  // Pieces of 1..7 bytes, so headers and payloads both straddle reads, with pauses that force separate reads.
  for (size_t at = 0; at < bytes.size();) {
    const size_t n = std::min<size_t>(1 + rng() % 7, bytes.size() - at);
    write_raw(raw, bytes.data() + at, n);
    at += n;
    if (rng() % 64 == 0) std::this_thread::sleep_for(1ms);
  }
  for (const auto& m : messages) EXPECT_EQ(expect_message(*channel).SerializeAsString(), m.SerializeAsString());
}

TEST(Channel, RejectsAnOversizedFrameBeforeReadingIt) {
  IoThread io;
  auto [raw, channel_socket] = test::loopback_pair(io);
  ChannelOptions options = named("rank 9 (replica 4, tp 0) on host-z");
  options.max_frame_bytes = 1024;
  auto channel = Channel::start(std::move(channel_socket), options);
  // A frame of exactly the limit passes.
  proto::Envelope fits;
  size_t text = 1024;
  do fits.mutable_shutdown()->set_reason(std::string(--text, 'x'));
  while (fits.ByteSizeLong() > 1024);
  ASSERT_EQ(fits.ByteSizeLong(), 1024u);
  const std::string frame = encode_frame(fits);
  write_raw(raw, frame.data(), frame.size());
  EXPECT_EQ(expect_message(*channel).shutdown().reason().size(), text);
  // One byte more is refused from the header alone: no payload follows, yet the error comes.
  const auto header = encode_frame_header(1025);
  write_raw(raw, header.data(), header.size());
  auto received = channel->receive(10s);
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(received.status().message().find("frame of 1025 bytes"), std::string::npos);
  EXPECT_NE(received.status().message().find("rank 9 (replica 4, tp 0) on host-z"), std::string::npos);
  EXPECT_NE(received.status().message().find("limit of 1024"), std::string::npos);
  EXPECT_TRUE(channel->lost());
}

TEST(Channel, RejectsAFrameThatIsNotAMessage) {
  IoThread io;
  auto [raw, channel_socket] = test::loopback_pair(io);
  auto channel = Channel::start(std::move(channel_socket), named("garbage peer"));
  auto rng = test::make_rng(3);
  std::string payload(64, '\0');
  for (char& c : payload) c = static_cast<char>(0xf8 | (rng() & 7));  // invalid wire types throughout
  const auto header = encode_frame_header(static_cast<uint32_t>(payload.size()));
  write_raw(raw, header.data(), header.size());
  write_raw(raw, payload.data(), payload.size());
  auto received = channel->receive(10s);
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(received.status().message().find("garbage peer"), std::string::npos);
}

TEST(Channel, ReceiveTimesOutWhenNothingArrives) {
  IoThread io;
  auto [a_socket, b_socket] = test::loopback_pair(io);
  auto a = Channel::start(std::move(a_socket), named("a"));
  auto b = Channel::start(std::move(b_socket), named("b"));
  const auto start = Clock::now();
  auto received = a->receive(150ms);
  const auto elapsed = Clock::now() - start;
  ASSERT_TRUE(received.ok());
  EXPECT_FALSE(received->has_value());  // heartbeats flowed meanwhile but are not messages
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 5s);
}

TEST(Channel, HeartbeatsKeepAQuietChannelAlive) {
  IoThread io;
  auto [a_socket, b_socket] = test::loopback_pair(io);
  ChannelOptions options = named("quiet");
  options.heartbeat_interval = 20ms;
  options.peer_timeout = 200ms;
  auto a = Channel::start(std::move(a_socket), options);
  auto b = Channel::start(std::move(b_socket), options);
  std::this_thread::sleep_for(800ms);  // four peer timeouts without a single message
  EXPECT_FALSE(a->lost()) << a->status().to_string();
  EXPECT_FALSE(b->lost()) << b->status().to_string();
  EXPECT_GE(a->heartbeats_received(), 10u);
  EXPECT_GE(b->heartbeats_received(), 10u);
  proto::Envelope m;
  m.mutable_release()->add_seq_ids(42);
  ASSERT_TRUE(a->send(m).ok());
  EXPECT_EQ(expect_message(*b).release().seq_ids(0), 42u);
}

TEST(Channel, ASilentPeerIsLostAfterThePeerTimeout) {
  IoThread io;
  auto [raw, channel_socket] = test::loopback_pair(io);  // the raw end never sends a heartbeat
  ChannelOptions options = named("rank 3 (replica 1, tp 0) on node-b, pid 77");
  options.heartbeat_interval = 20ms;
  options.peer_timeout = 250ms;
  const auto start = Clock::now();
  auto channel = Channel::start(std::move(channel_socket), options);
  auto received = channel->receive(10s);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.status().code(), StatusCode::unavailable);
  EXPECT_NE(received.status().message().find("no frame from rank 3 (replica 1, tp 0) on node-b, pid 77"),
            std::string::npos)
      << received.status().message();
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_FALSE(channel->send(proto::Envelope()).ok());
}

TEST(Channel, DeliversWhatArrivedBeforeThePeerClosedThenTheLoss) {
  IoThread io;
  auto [a_socket, b_socket] = test::loopback_pair(io);
  auto a = Channel::start(std::move(a_socket), named("worker b"));  // a's peer is b
  auto b = Channel::start(std::move(b_socket), named("a"));
  for (uint64_t i = 0; i < 100; ++i) {
    proto::Envelope m;
    m.mutable_release()->add_seq_ids(i);
    ASSERT_TRUE(b->send(m).ok());
  }
  b->close();  // flushes the 100 frames first
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(expect_message(*a).release().seq_ids(0), i);
  auto received = a->receive(10s);
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.status().code(), StatusCode::unavailable);
  EXPECT_EQ(received.status().message(), "connection closed by worker b");
  // The loss is sticky.
  auto again = a->receive(10ms);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), "connection closed by worker b");
  EXPECT_TRUE(b->wait_closed(5s));
  EXPECT_FALSE(b->send(proto::Envelope()).ok());
}

TEST(Channel, SharedInboxTagsEachChannel) {
  IoThread io;
  auto inbox = std::make_shared<Inbox>();
  auto [a0, b0] = test::loopback_pair(io);
  auto [a1, b1] = test::loopback_pair(io);
  auto peer0 = Channel::start(std::move(a0), named("p0"));
  auto peer1 = Channel::start(std::move(a1), named("p1"));
  auto c0 = Channel::start(std::move(b0), named("rank 1"), inbox, 0);
  auto c1 = Channel::start(std::move(b1), named("rank 2"), inbox, 1);
  proto::Envelope m;
  m.mutable_release()->add_seq_ids(5);
  ASSERT_TRUE(peer1->send(m).ok());
  auto event = inbox->pop(Clock::now() + 10s);
  ASSERT_TRUE(event && event->message);
  EXPECT_EQ(event->source, 1);
  peer0->close();
  event = inbox->pop(Clock::now() + 10s);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->source, 0);
  EXPECT_FALSE(event->message);
  EXPECT_EQ(event->status.message(), "connection closed by rank 1");
  EXPECT_FALSE(c1->lost());
}

TEST(Connect, GivesUpAtTheDeadlineNamingTheAddress) {
  IoThread io;
  uint16_t port = 0;
  {
    auto listener = Listener::open(io, "127.0.0.1", 0);
    ASSERT_TRUE(listener.ok());
    port = (*listener)->port();
  }  // closed again: connections to it are refused
  const auto start = Clock::now();
  auto socket = connect_with_retry(io, "127.0.0.1", port, start + 300ms, 20ms);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(socket.ok());
  EXPECT_EQ(socket.status().code(), StatusCode::unavailable);
  EXPECT_NE(socket.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 5s);
}

TEST(Connect, RetriesUntilTheListenerAppears) {
  IoThread io;
  uint16_t port = 0;
  {
    auto probe = Listener::open(io, "127.0.0.1", 0);
    ASSERT_TRUE(probe.ok());
    port = (*probe)->port();
  }
  std::optional<Result<Socket>> client;
  std::thread connector([&] { client.emplace(connect_with_retry(io, "127.0.0.1", port, Clock::now() + 10s, 10ms)); });
  std::this_thread::sleep_for(100ms);
  auto listener = Listener::open(io, "127.0.0.1", port);
  ASSERT_TRUE(listener.ok()) << listener.status().to_string();
  auto accepted = (*listener)->accept(Clock::now() + 10s);
  connector.join();
  ASSERT_TRUE(accepted.ok() && accepted->has_value());
  ASSERT_TRUE(client->ok()) << client->status().to_string();
}

TEST(Listener, AcceptTimesOut) {
  IoThread io;
  auto listener = Listener::open(io, "127.0.0.1", 0);
  ASSERT_TRUE(listener.ok());
  const auto start = Clock::now();
  auto accepted = (*listener)->accept(start + 100ms);
  ASSERT_TRUE(accepted.ok());
  EXPECT_FALSE(accepted->has_value());
  EXPECT_GE(Clock::now() - start, 100ms);
}

TEST(Frame, HeaderIsBigEndianAndSplitsHostPort) {
  const auto header = encode_frame_header(0x01020304u);
  EXPECT_EQ(header[0], 1);
  EXPECT_EQ(header[3], 4);
  EXPECT_EQ(decode_frame_header(header), 0x01020304u);
  auto hp = split_host_port("node-a.example:41234");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->first, "node-a.example");
  EXPECT_EQ(hp->second, 41234);
  EXPECT_FALSE(split_host_port("node-a").ok());
  EXPECT_FALSE(split_host_port("node-a:0").ok());
  EXPECT_FALSE(split_host_port("node-a:70000").ok());
}

}  // namespace
}  // namespace mixserve
