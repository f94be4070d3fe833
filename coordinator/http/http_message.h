#pragma once
// The HTTP request and response as the handlers see them: plain values, no Beast types, so the OpenAI layer
// and its tests do not depend on the transport.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mixserve {

struct HttpHeader {
  std::string name;  // as received; compare case-insensitively with header()
  std::string value;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/v1/completions?x=1"
  std::string path;    // target without the query
  std::vector<HttpHeader> headers;
  std::string body;
  // The X-Request-Id the client sent (sanitized) or one the server made; echoed on the response.
  std::string request_id;

  // The first header of that name (case-insensitive), empty when absent.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<HttpHeader> headers;  // extra headers (Allow, Retry-After, ...)
};

bool iequals(std::string_view a, std::string_view b);

}  // namespace mixserve
