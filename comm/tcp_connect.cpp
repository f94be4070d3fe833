#include "comm/tcp_connect.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <optional>
#include <thread>

#include "core/check.h"

namespace mixserve {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// Runs `start(done)` on the I/O thread and waits for `done(ec)` until the deadline; then runs `cancel` on the
// I/O thread and waits for the operation to finish, so no handler outlives this call. A timed-out operation
// answers operation_aborted; one that completed just before the cancel keeps its result.
template <typename Start, typename Cancel>
error_code run_until(IoThread& io, std::chrono::steady_clock::time_point deadline, Start start, Cancel cancel) {
  MIXSERVE_CHECK(!io.in_io_thread());
  auto promise = std::make_shared<std::promise<error_code>>();
  auto future = promise->get_future();
  asio::post(io.context(), [&start, promise] { start([promise](error_code ec) { promise->set_value(ec); }); });
  if (future.wait_until(deadline) != std::future_status::ready) asio::post(io.context(), cancel);
  return future.get();
}

}  // namespace

Result<std::unique_ptr<Listener>> Listener::open(IoThread& io, const std::string& address, uint16_t port) {
  error_code ec;
  const auto ip = asio::ip::make_address(address, ec);
  if (ec) return invalid_argument("listen address '" + address + "' is not an IP address");
  tcp::acceptor acceptor(io.context());
  const tcp::endpoint endpoint(ip, port);
  if (acceptor.open(endpoint.protocol(), ec); !ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return io_error("cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
  const uint16_t bound = acceptor.local_endpoint(ec).port();
  return std::unique_ptr<Listener>(new Listener(io, std::move(acceptor), bound));
}

Result<std::optional<tcp::socket>> Listener::accept(Clock::time_point deadline) {
  tcp::socket socket(io_.context());
  const auto ec = run_until(
      io_, deadline, [&](auto done) { acceptor_.async_accept(socket, done); },
      [&] {
        error_code ignored;
        acceptor_.cancel(ignored);
      });
  if (ec == asio::error::operation_aborted) return std::optional<tcp::socket>();
  if (ec) return io_error("accept on port " + std::to_string(port_) + " failed: " + ec.message());
  return std::optional<tcp::socket>(std::move(socket));
}

Result<tcp::socket> connect_with_retry(IoThread& io, const std::string& host, uint16_t port,
                                       std::chrono::steady_clock::time_point deadline,
                                       std::chrono::milliseconds retry_interval) {
  const std::string where = host + ":" + std::to_string(port);
  std::string last_error = "no attempt finished";
  tcp::resolver resolver(io.context());
  while (std::chrono::steady_clock::now() < deadline) {
    error_code ec;
    const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (!ec) {
      tcp::socket socket(io.context());
      const auto result = run_until(
          io, deadline,
          [&](auto done) { asio::async_connect(socket, endpoints, [done](error_code e, auto) { done(e); }); },
          [&] {
            error_code ignored;
            socket.cancel(ignored);
          });
      if (!result) return socket;
      if (result == asio::error::operation_aborted) break;
      last_error = result.message();
    } else {
      last_error = "cannot resolve '" + host + "': " + ec.message();
    }
    std::this_thread::sleep_for(retry_interval);
  }
  return unavailable("could not connect to " + where + " before the deadline (last error: " + last_error + ")");
}

Result<std::pair<std::string, uint16_t>> split_host_port(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    return invalid_argument("'" + address + "' is not host:port");
  const std::string port_text = address.substr(colon + 1);
  char* end = nullptr;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) return invalid_argument("'" + address + "' has a bad port");
  return std::make_pair(address.substr(0, colon), static_cast<uint16_t>(port));
}

}  // namespace mixserve
