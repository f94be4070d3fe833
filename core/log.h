#pragma once
// Leveled logging, one line per event: "2026-11-21T14:22:05.123Z I [component] message".
// Thread-safe: each line is written with one call under a mutex. The level comes from MIXSERVE_LOG_LEVEL
// (debug|info|warn|error) or set_log_level().
#include <sstream>
#include <string>

namespace mixserve {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
bool parse_log_level(const std::string& name, LogLevel* level);
void log_line(LogLevel level, const char* component, const std::string& message);

}  // namespace mixserve

#define MIXSERVE_LOG(level, component, stream_expr)                                 \
  do {                                                                              \
    if (::mixserve::LogLevel::level >= ::mixserve::log_level()) {                   \
      std::ostringstream mixserve_log_os_;                                          \
      mixserve_log_os_ << stream_expr;                                              \
      ::mixserve::log_line(::mixserve::LogLevel::level, component, mixserve_log_os_.str()); \
    }                                                                               \
  } while (0)
#define LOG_DEBUG(component, x) MIXSERVE_LOG(debug, component, x)
#define LOG_INFO(component, x) MIXSERVE_LOG(info, component, x)
#define LOG_WARN(component, x) MIXSERVE_LOG(warn, component, x)
#define LOG_ERROR(component, x) MIXSERVE_LOG(error, component, x)
