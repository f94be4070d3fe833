#include "coordinator/openai/api_error.h"

#include <nlohmann/json.hpp>

namespace mixserve {

ApiError bad_request(std::string message, std::string param) {
  return {.http_status = 400, .message = std::move(message), .param = std::move(param)};
}

ApiError not_found_error(std::string message, std::string code) {
  return {.http_status = 404, .message = std::move(message), .code = std::move(code)};
}

ApiError api_error_from_status(const Status& status) {
  ApiError e{.message = status.message()};
  switch (status.code()) {
    case StatusCode::invalid_argument:
    case StatusCode::out_of_range:
    case StatusCode::unsupported:
      e.http_status = 400;
      break;
    case StatusCode::not_found:
      e.http_status = 404;
      e.code = "not_found";
      break;
    case StatusCode::resource_exhausted:
      e.http_status = 429;
      e.type = "rate_limit_error";
      e.code = "queue_full";
      e.retry_after_s = 1;
      break;
    case StatusCode::internal:
    case StatusCode::io_error:
      e.http_status = 500;
      e.type = "server_error";
      e.code = "internal_error";
      break;
    case StatusCode::unavailable:
    default:
      e.http_status = 503;
      e.type = "server_error";
      e.code = "service_unavailable";
      e.retry_after_s = 1;
      break;
  }
  return e;
}

std::string error_json(const ApiError& error) {
  auto optional = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
  nlohmann::json body = {{"error",
                          {{"message", error.message},
                           {"type", error.type},
                           {"param", optional(error.param)},
                           {"code", optional(error.code)}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpResponse error_response(const ApiError& error) {
  HttpResponse response{.status = error.http_status, .body = error_json(error)};
  if (error.retry_after_s > 0) response.headers.push_back({"Retry-After", std::to_string(error.retry_after_s)});
  return response;
}

}  // namespace mixserve
