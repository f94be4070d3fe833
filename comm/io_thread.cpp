#include "comm/io_thread.h"

#include <exception>

#include "core/log.h"

namespace mixserve {

IoThread::IoThread() : work_(boost::asio::make_work_guard(context_)) {
  thread_ = std::thread([this] {
    // Handlers report errors through Status; an exception escaping one is a bug, so it is logged and the loop
    // goes on serving the other channels.
    for (;;) {
      try {
        context_.run();
        return;
      } catch (const std::exception& e) {
        LOG_ERROR("comm", "exception in the I/O thread: " << e.what());
      }
    }
  });
}

IoThread::~IoThread() {
  work_.reset();
  context_.stop();
  thread_.join();
}

}  // namespace mixserve
