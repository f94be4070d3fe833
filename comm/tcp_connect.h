#pragma once
// Opening channels: a listening socket on the coordinator and a connect with retries on the workers, both
// bounded by a deadline (a blocking connect to an unreachable host would otherwise hang for minutes).
// Thread-safety: a Listener is used by one thread; connect_with_retry may run on any thread but the IoThread's.
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "comm/io_thread.h"
#include "core/status.h"

namespace mixserve {

class Listener {
 public:
  using Clock = std::chrono::steady_clock;
  // Binds `address` ("0.0.0.0", "127.0.0.1", an interface's IP) on `port` (0: any free port).
  static Result<std::unique_ptr<Listener>> open(IoThread& io, const std::string& address, uint16_t port);
  uint16_t port() const { return port_; }
  // The next connection; nullopt when none arrived by `deadline`.
  Result<std::optional<boost::asio::ip::tcp::socket>> accept(Clock::time_point deadline);

 private:
  Listener(IoThread& io, boost::asio::ip::tcp::acceptor acceptor, uint16_t port)
      : io_(io), acceptor_(std::move(acceptor)), port_(port) {}
  IoThread& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_;
};

// Connects to host:port, retrying refused or failed attempts every `retry_interval` until `deadline` (the
// coordinator may open its port after a worker starts). The error names the address and the last failure.
Result<boost::asio::ip::tcp::socket> connect_with_retry(
    IoThread& io, const std::string& host, uint16_t port, std::chrono::steady_clock::time_point deadline,
    std::chrono::milliseconds retry_interval = std::chrono::milliseconds(100));

// "host:port" -> parts; invalid_argument on anything else.
Result<std::pair<std::string, uint16_t>> split_host_port(const std::string& address);

}  // namespace mixserve
