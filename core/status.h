#pragma once
// Status and Result<T>: the error channel for operations that can fail on bad input or the environment
// (files, configs, requests). Broken invariants use MIXSERVE_CHECK (core/check.h) instead.
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace mixserve {

enum class StatusCode {
  ok,
  invalid_argument,   // malformed input: a bad config value, a wrong shape, a corrupt file
  not_found,          // a missing file or tensor
  unsupported,        // well-formed but not handled: an unknown architecture or dtype
  out_of_range,       // a value outside its allowed range (prompt longer than the context, ...)
  resource_exhausted, // out of KV blocks, queue full
  io_error,           // the operating system refused (open, mmap, read, write)
  internal,           // a bug
  unavailable,        // the service cannot take it now: replica lost, no replica up, draining (HTTP 503)
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok_status() { return {}; }

  bool ok() const { return code_ == StatusCode::ok; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: message" for logs and one-line CLI errors.
  std::string to_string() const;
  // Prefixes context, e.g. the file name: "model.safetensors: " + message.
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::invalid_argument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::not_found, std::move(m)}; }
inline Status unsupported(std::string m) { return {StatusCode::unsupported, std::move(m)}; }
inline Status out_of_range(std::string m) { return {StatusCode::out_of_range, std::move(m)}; }
inline Status io_error(std::string m) { return {StatusCode::io_error, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::internal, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::unavailable, std::move(m)}; }

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
  Result(Status status) : state_(std::move(status)) {  // NOLINT
    if (std::get<Status>(state_).ok()) std::abort();   // an ok Status carries no value: a bug at the call site
  }
  bool ok() const { return std::holds_alternative<T>(state_); }
  const Status& status() const {
    static const Status ok_status;
    return ok() ? ok_status : std::get<Status>(state_);
  }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace mixserve

// Returns the Status of an expression from the enclosing function when it is not ok.
#define MIXSERVE_RETURN_IF_ERROR(expr)              \
  do {                                              \
    ::mixserve::Status mixserve_status_ = (expr);   \
    if (!mixserve_status_.ok()) return mixserve_status_; \
  } while (0)

#define MIXSERVE_CONCAT_INNER(a, b) a##b
#define MIXSERVE_CONCAT(a, b) MIXSERVE_CONCAT_INNER(a, b)
// MIXSERVE_ASSIGN_OR_RETURN(auto x, f()): binds the value or returns the Status.
#define MIXSERVE_ASSIGN_OR_RETURN(decl, expr)                              \
  auto MIXSERVE_CONCAT(mixserve_result_, __LINE__) = (expr);               \
  if (!MIXSERVE_CONCAT(mixserve_result_, __LINE__).ok())                   \
    return MIXSERVE_CONCAT(mixserve_result_, __LINE__).status();           \
  decl = std::move(MIXSERVE_CONCAT(mixserve_result_, __LINE__)).value()
