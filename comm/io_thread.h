#pragma once
// One thread running a Boost.Asio io_context: every socket read, write and timer of the channels created on it
// runs there, so heartbeats keep flowing while the owner's thread is busy in a long forward pass.
// Lifetime: the IoThread must outlive every Channel, Listener and connect call that uses its context; its
// destructor stops the context (pending operations are abandoned) and joins the thread.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

namespace mixserve {

class IoThread {
 public:
  IoThread();
  ~IoThread();
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  boost::asio::io_context& context() { return context_; }
  bool in_io_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  boost::asio::io_context context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace mixserve
