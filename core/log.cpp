#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace mixserve {
namespace {

LogLevel initial_level() {
  LogLevel level = LogLevel::info;
  if (const char* env = std::getenv("MIXSERVE_LOG_LEVEL")) parse_log_level(env, &level);
  return level;
}

std::atomic<LogLevel>& level_storage() {
  static std::atomic<LogLevel> level{initial_level()};
  return level;
}

}  // namespace

void set_log_level(LogLevel level) { level_storage().store(level); }
LogLevel log_level() { return level_storage().load(std::memory_order_relaxed); }

bool parse_log_level(const std::string& name, LogLevel* level) {
  if (name == "debug") *level = LogLevel::debug;
  else if (name == "info") *level = LogLevel::info;
  else if (name == "warn") *level = LogLevel::warn;
  else if (name == "error") *level = LogLevel::error;
  else return false;
  return true;
}

void log_line(LogLevel level, const char* component, const std::string& message) {
  static std::mutex mutex;
  static const char letters[] = {'D', 'I', 'W', 'E'};
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const int millis =
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::lock_guard<std::mutex> lock(mutex);
  std::fprintf(stderr, "%s.%03dZ %c [%s] %s\n", stamp, millis, letters[static_cast<int>(level)], component,
               message.c_str());
}

}  // namespace mixserve
