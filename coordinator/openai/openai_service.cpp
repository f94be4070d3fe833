#include "coordinator/openai/openai_service.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <string_view>

#include "coordinator/openai/generation_routes.h"
#include "coordinator/openai/response_json.h"
#include "coordinator/openai/tokenize_routes.h"
#include "core/log.h"

namespace mixserve {
namespace {

using json = nlohmann::json;

constexpr std::string_view kModelsPrefix = "/v1/models/";

enum class Route { completions, chat, models, tokenize, detokenize, health, ready, metrics };

struct RouteEntry {
  std::string_view path;
  std::string_view method;
  Route route;
};

constexpr RouteEntry kRoutes[] = {
    {"/v1/completions", "POST", Route::completions}, {"/v1/chat/completions", "POST", Route::chat},
    {"/v1/models", "GET", Route::models},            {"/tokenize", "POST", Route::tokenize},
    {"/detokenize", "POST", Route::detokenize},      {"/health", "GET", Route::health},
    {"/ready", "GET", Route::ready},                 {"/metrics", "GET", Route::metrics},
};

// The process's random prefix for request ids, so ids from two coordinators behind one balancer differ.
std::string process_prefix() {
  std::random_device device;
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%08x", static_cast<unsigned>(device()));
  return buffer;
}

json status_json(const char* status, const EngineSnapshot& s) {
  return {{"status", status}, {"replicas", s.n_replicas}, {"replicas_up", s.n_replicas_up}};
}

}  // namespace

std::string ServiceContext::new_request_id() {
  static const std::string prefix = process_prefix();
  return prefix + "-" + std::to_string(next_id.fetch_add(1));
}

OpenAiService::OpenAiService(ServiceConfig config, EngineCore& engine, const Tokenizer& tokenizer,
                             const ChatTemplate* chat_template, metrics::Registry& registry, ServingMetrics& metrics)
    : context_{.config = std::move(config),
               .engine = engine,
               .tokenizer = tokenizer,
               .chat_template = chat_template,
               .metrics = &metrics,
               .started_unix_s = std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count()},
      registry_(registry) {}

void OpenAiService::handle(HttpRequest request, std::shared_ptr<Exchange> exchange) {
  const RouteEntry* match = nullptr;
  bool path_known = false;
  for (const auto& entry : kRoutes) {
    if (entry.path != request.path) continue;
    path_known = true;
    if (entry.method == request.method) match = &entry;
  }
  if (!match && request.method == "GET" && request.path.starts_with(kModelsPrefix)) {
    return exchange->respond(model(request.path.substr(kModelsPrefix.size())));
  }
  if (!match && path_known) {
    ApiError e{.http_status = 405, .message = "method " + request.method + " is not allowed on " + request.path,
               .code = "method_not_allowed"};
    HttpResponse response = context_.error_answer(e);
    for (const auto& entry : kRoutes) {
      if (entry.path == request.path) response.headers.push_back({"Allow", std::string(entry.method)});
    }
    return exchange->respond(std::move(response));
  }
  if (!match) {
    return exchange->respond(
        context_.error_answer(not_found_error("no route " + request.method + " " + request.path, "not_found")));
  }
  LOG_DEBUG("openai", request.request_id << " " << request.method << " " << request.path);
  switch (match->route) {
    case Route::completions: return handle_completions(context_, request, std::move(exchange));
    case Route::chat: return handle_chat_completions(context_, request, std::move(exchange));
    case Route::models: return exchange->respond(models());
    case Route::tokenize: return exchange->respond(handle_tokenize(context_, request));
    case Route::detokenize: return exchange->respond(handle_detokenize(context_, request));
    case Route::health: return exchange->respond(health());
    case Route::ready: return exchange->respond(ready());
    case Route::metrics:
      return exchange->respond({.content_type = metrics::Registry::kContentType, .body = registry_.render()});
  }
}

HttpResponse OpenAiService::health() const {
  // Liveness: the process serves. 503 once a replica is lost or while draining, so a balancer stops sending.
  const EngineSnapshot s = context_.engine.snapshot();
  if (context_.draining.load()) return {.status = 503, .body = dump_json(status_json("draining", s))};
  if (s.n_replicas_up < s.n_replicas) return {.status = 503, .body = dump_json(status_json("replica_lost", s))};
  return {.body = dump_json(status_json("ok", s))};
}

HttpResponse OpenAiService::ready() const {
  const EngineSnapshot s = context_.engine.snapshot();
  const char* status = context_.draining.load()            ? "draining"
                       : !context_.ready.load()            ? "loading"
                       : s.n_replicas_up < s.n_replicas    ? "replica_lost"
                       : s.n_replicas == 0                 ? "no_replicas"
                                                           : "ready";
  return {.status = std::string_view(status) == "ready" ? 200 : 503, .body = dump_json(status_json(status, s))};
}

HttpResponse OpenAiService::models() const {
  json model = {{"id", context_.config.model_name},
                {"object", "model"},
                {"created", context_.started_unix_s},
                {"owned_by", "mixserve"},
                {"root", context_.config.model_root},
                {"parent", nullptr},
                {"max_model_len", context_.config.max_model_len}};
  return {.body = dump_json(json{{"object", "list"}, {"data", json::array({model})}})};
}

HttpResponse OpenAiService::model(const std::string& id) {
  if (id != context_.config.model_name) {
    return context_.error_answer(not_found_error("The model '" + id + "' does not exist.", "model_not_found"));
  }
  return {.body = dump_json(json::parse(models().body)["data"][0])};
}

}  // namespace mixserve
