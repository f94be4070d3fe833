#pragma once
// What every OpenAI route needs: the served model's name and limits, the engine core, the tokenizer, the chat
// template, the metrics, and the service's own state (draining, requests in flight, request numbering).
// Thread-safety: the references are to thread-safe objects (EngineCore, an immutable Tokenizer and
// ChatTemplate, the metrics); the state is atomic. Owned by OpenAiService, which outlives every request.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "coordinator/chat/chat_template.h"
#include "coordinator/http/http_message.h"
#include "coordinator/metrics/serving_metrics.h"
#include "coordinator/openai/api_error.h"
#include "coordinator/serving/engine_core.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace mixserve {

struct ServiceConfig {
  std::string model_name;       // the id clients send as "model" and /v1/models lists
  std::string model_root;       // the checkpoint directory, listed as "root"
  int64_t max_model_len = 0;    // prompt + completion tokens of one sequence
  std::vector<int32_t> eos_ids; // end-of-sequence tokens (tokenizer and generation config), unless ignore_eos
  std::string chat_unavailable; // why there is no chat template (absent, or outside the supported subset)
};

struct ServiceContext {
  ServiceConfig config;
  EngineCore& engine;
  const Tokenizer& tokenizer;
  const ChatTemplate* chat_template = nullptr;  // null: the model has none (chat answers 400)
  ServingMetrics* metrics = nullptr;            // null in tests that do not look at metrics
  int64_t started_unix_s = 0;

  std::atomic<bool> ready{false};     // model loaded and replicas up: /ready may answer 200
  std::atomic<bool> draining{false};  // SIGTERM: /ready and new generations answer 503
  std::atomic<int64_t> in_flight{0};  // generation requests not yet fully answered
  std::atomic<uint64_t> next_id{0};

  // A process-unique id for the engine (clients' X-Request-Id values need not be unique).
  std::string new_request_id();
  void count_error(int http_status) {
    if (metrics) metrics->count_error(config.model_name, http_status);
  }
  // The error's response, counted in request_errors_total{code}.
  HttpResponse error_answer(const ApiError& error) {
    count_error(error.http_status);
    return error_response(error);
  }
};

// Counts a generation as in flight for its lifetime (drain waits for the count to reach zero).
class InFlightGuard {
 public:
  explicit InFlightGuard(ServiceContext& context) : context_(context) { context_.in_flight.fetch_add(1); }
  ~InFlightGuard() { context_.in_flight.fetch_sub(1); }
  InFlightGuard(const InFlightGuard&) = delete;
  InFlightGuard& operator=(const InFlightGuard&) = delete;

 private:
  ServiceContext& context_;
};

}  // namespace mixserve
