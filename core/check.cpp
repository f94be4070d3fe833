#include "core/check.h"

#include <cstdio>
#include <cstdlib>

namespace mixserve::detail {

void check_failed(const char* file, int line, const char* expr, const std::string& detail) {
  std::fprintf(stderr, "CHECK failed at %s:%d: %s%s%s\n", file, line, expr, detail.empty() ? "" : " (",
               detail.empty() ? "" : (detail + ")").c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace mixserve::detail
