#pragma once
// Helpers for the comm tests: connected loopback sockets and random wire messages.
#include <boost/asio/ip/tcp.hpp>
#include <random>
#include <utility>

#include "comm/io_thread.h"
#include "comm/proto/mixserve.pb.h"
#include "worker/step_plan.h"

namespace mixserve::test {

using Socket = boost::asio::ip::tcp::socket;

// Two ends of one TCP connection on 127.0.0.1, both bound to `io`.
std::pair<Socket, Socket> loopback_pair(IoThread& io);

// A plan of 1..max_sequences sequences with random tokens, positions, tables and sampling parameters.
StepPlan random_plan(std::mt19937_64& rng, int max_sequences, int max_tokens);
proto::Envelope random_envelope(std::mt19937_64& rng);

}  // namespace mixserve::test
