#pragma once
// MIXSERVE_CHECK: broken invariants (bugs, never bad input) abort with file, line and the values involved.
#include <sstream>
#include <string>

namespace mixserve::detail {
[[noreturn]] void check_failed(const char* file, int line, const char* expr, const std::string& detail);
}

#define MIXSERVE_CHECK(cond)                                                     \
  do {                                                                           \
    if (!(cond)) ::mixserve::detail::check_failed(__FILE__, __LINE__, #cond, ""); \
  } while (0)

#define MIXSERVE_CHECK_OP(a, op, b)                                                    \
  do {                                                                                 \
    const auto& mixserve_a_ = (a);                                                     \
    const auto& mixserve_b_ = (b);                                                     \
    if (!(mixserve_a_ op mixserve_b_)) {                                               \
      std::ostringstream mixserve_os_;                                                 \
      mixserve_os_ << mixserve_a_ << " vs " << mixserve_b_;                            \
      ::mixserve::detail::check_failed(__FILE__, __LINE__, #a " " #op " " #b, mixserve_os_.str()); \
    }                                                                                  \
  } while (0)

#define MIXSERVE_CHECK_EQ(a, b) MIXSERVE_CHECK_OP(a, ==, b)
#define MIXSERVE_CHECK_LT(a, b) MIXSERVE_CHECK_OP(a, <, b)
#define MIXSERVE_CHECK_LE(a, b) MIXSERVE_CHECK_OP(a, <=, b)
#define MIXSERVE_CHECK_GE(a, b) MIXSERVE_CHECK_OP(a, >=, b)
