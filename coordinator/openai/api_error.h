#pragma once
// The error answers of the OpenAI API: {"error": {"message", "type", "param", "code"}} with an HTTP status,
// and the one mapping from Status codes (the scheduler's, the tokenizer's) to HTTP statuses.
#include <string>

#include "coordinator/http/http_message.h"
#include "core/status.h"

namespace mixserve {

struct ApiError {
  int http_status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the offending field, empty when none (serialized as null)
  std::string code;   // a machine-readable reason, empty when none (serialized as null)
  int retry_after_s = 0;  // > 0: a Retry-After header (429, 503)
};

ApiError bad_request(std::string message, std::string param = {});
ApiError not_found_error(std::string message, std::string code);

// invalid_argument, out_of_range, unsupported -> 400; not_found -> 404; resource_exhausted -> 429 with
// Retry-After; internal, io_error -> 500; unavailable (a lost or absent replica, draining) -> 503.
ApiError api_error_from_status(const Status& status);

std::string error_json(const ApiError& error);  // the body alone
HttpResponse error_response(const ApiError& error);

}  // namespace mixserve
