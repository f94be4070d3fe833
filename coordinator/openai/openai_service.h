#pragma once
// OpenAiService: the HttpHandler of the coordinator. Routes (serving.md):
//   POST /v1/completions, POST /v1/chat/completions, GET /v1/models, GET /v1/models/{id},
//   POST /tokenize, POST /detokenize, GET /health, GET /ready, GET /metrics.
// Unknown routes answer 404 and known routes with another method 405 (with Allow), as OpenAI error JSON.
// Thread-safety: handle() runs on the connection strands of the server's threads; set_ready/begin_drain and
// in_flight may be called from any thread.
#include <cstdint>
#include <memory>

#include "coordinator/http/http_server.h"
#include "coordinator/metrics/registry.h"
#include "coordinator/openai/service_context.h"

namespace mixserve {

class OpenAiService final : public HttpHandler {
 public:
  // Every reference must outlive the service. `registry` is what /metrics renders; `metrics` (registered in
  // it) receives request_errors_total. `chat_template` may be null.
  OpenAiService(ServiceConfig config, EngineCore& engine, const Tokenizer& tokenizer,
                const ChatTemplate* chat_template, metrics::Registry& registry, ServingMetrics& metrics);

  void handle(HttpRequest request, std::shared_ptr<Exchange> exchange) override;

  void set_ready(bool ready) { context_.ready.store(ready); }
  // SIGTERM: /ready answers 503 and new generations are refused with 503; running ones go on.
  void begin_drain() { context_.draining.store(true); }
  // Generation requests not yet fully answered.
  int64_t in_flight() const { return context_.in_flight.load(); }

 private:
  HttpResponse health() const;
  HttpResponse ready() const;
  HttpResponse models() const;
  HttpResponse model(const std::string& id);

  ServiceContext context_;
  metrics::Registry& registry_;
};

}  // namespace mixserve
