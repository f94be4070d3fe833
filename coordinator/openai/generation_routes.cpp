#include "coordinator/openai/generation_routes.h"

#include <algorithm>
#include <chrono>

#include "coordinator/openai/generation_call.h"
#include "coordinator/openai/openai_request.h"
#include "core/log.h"

namespace mixserve {
namespace {

using json = nlohmann::json;

constexpr int64_t kCompletionDefaultMaxTokens = 16;  // OpenAI's default for /v1/completions

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ApiError context_error(std::string message) {
  ApiError e = bad_request(std::move(message), "messages");
  e.code = "context_length_exceeded";
  return e;
}

// The completion budget of one prompt: the request's max_tokens, which must fit the context with the prompt,
// or the endpoint's default clamped to the room left.
std::variant<int64_t, ApiError> budget_for(const ServiceContext& context, const GenerationParams& params,
                                           int64_t prompt_len, int64_t default_max, const char* prompt_param) {
  const int64_t limit = context.config.max_model_len;
  if (prompt_len >= limit) {
    ApiError e = context_error("This model's maximum context length is " + std::to_string(limit) +
                               " tokens. However, your prompt has " + std::to_string(prompt_len) + " tokens.");
    e.param = prompt_param;
    return e;
  }
  if (params.max_tokens) {
    if (prompt_len + *params.max_tokens > limit) {
      ApiError e = context_error("This model's maximum context length is " + std::to_string(limit) +
                                 " tokens. However, you requested " + std::to_string(prompt_len + *params.max_tokens) +
                                 " tokens (" + std::to_string(prompt_len) + " in the prompt, " +
                                 std::to_string(*params.max_tokens) + " for the completion).");
      e.param = "max_tokens";
      return e;
    }
    return *params.max_tokens;
  }
  return std::min(default_max, limit - prompt_len);
}

std::variant<std::vector<int32_t>, ApiError> tokenize_prompt(const ServiceContext& context, const PromptInput& prompt) {
  std::vector<int32_t> ids;
  if (prompt.text) {
    auto encoded = context.tokenizer.encode(*prompt.text, /*add_special_tokens=*/true);
    if (!encoded.ok()) return bad_request("cannot tokenize the prompt: " + encoded.status().message(), "prompt");
    ids = std::move(*encoded);
  } else {
    const int64_t vocab = context.tokenizer.vocab_size();
    for (int64_t id : prompt.ids) {
      if (id < 0 || id >= vocab) {
        return bad_request("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                               std::to_string(vocab) + ")",
                           "prompt");
      }
      ids.push_back(static_cast<int32_t>(id));
    }
  }
  if (ids.empty()) return bad_request("the prompt is empty", "prompt");
  return ids;
}

void start_call(ServiceContext& context, std::shared_ptr<Exchange> exchange, ApiKind kind, GenerationParams params,
                std::vector<std::vector<int32_t>> prompts, std::vector<int64_t> budgets) {
  if (!params.seed_given) {
    // A fresh seed per request, so that two unseeded requests do not sample alike.
    params.sampling.seed = std::hash<std::string>{}(context.new_request_id()) ^ static_cast<uint64_t>(unix_now());
  }
  ResponseMeta meta{.kind = kind,
                    .id = (kind == ApiKind::completion ? "cmpl-" : "chatcmpl-") + context.new_request_id(),
                    .created = unix_now(),
                    .model = context.config.model_name};
  auto call = std::make_shared<GenerationCall>(context, std::move(exchange), std::move(meta), std::move(params),
                                               std::move(prompts), std::move(budgets));
  call->start();
}

bool refuse_early(ServiceContext& context, const std::shared_ptr<Exchange>& exchange) {
  if (!context.draining.load()) return false;
  ApiError e{.http_status = 503, .message = "the server is shutting down", .type = "server_error",
             .code = "draining", .retry_after_s = 1};
  exchange->respond(context.error_answer(e));
  return true;
}

}  // namespace

std::optional<ApiError> check_model(const ServiceContext& context, const std::string& model) {
  if (model.empty() || model == context.config.model_name) return std::nullopt;
  ApiError e = not_found_error("The model '" + model + "' does not exist.", "model_not_found");
  e.param = "model";
  return e;
}

std::variant<std::string, ApiError> render_chat(const ServiceContext& context, const json& messages,
                                                bool add_generation_prompt, const json& template_kwargs) {
  if (!context.chat_template) {
    const std::string& why = context.config.chat_unavailable;
    return bad_request("chat is not available for this model (" + (why.empty() ? "no chat template" : why) +
                           "); use /v1/completions",
                       "messages");
  }
  json extra = template_kwargs;
  extra["bos_token"] = context.tokenizer.bos_token();
  extra["eos_token"] = context.tokenizer.eos_token();
  auto text = context.chat_template->render(messages, add_generation_prompt, extra);
  if (!text.ok()) return bad_request(text.status().message(), "messages");
  return std::move(*text);
}

void handle_completions(ServiceContext& context, const HttpRequest& http, std::shared_ptr<Exchange> exchange) {
  if (refuse_early(context, exchange)) return;
  auto fail = [&](const ApiError& e) { exchange->respond(context.error_answer(e)); };
  auto body = parse_json_body(http.body);
  if (auto* e = std::get_if<ApiError>(&body)) return fail(*e);
  auto parsed = parse_completion_request(std::get<json>(body));
  if (auto* e = std::get_if<ApiError>(&parsed)) return fail(*e);
  auto& request = std::get<CompletionRequest>(parsed);
  if (auto e = check_model(context, request.params.model)) return fail(*e);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int64_t> budgets;
  for (const auto& prompt : request.prompts) {
    auto ids = tokenize_prompt(context, prompt);
    if (auto* e = std::get_if<ApiError>(&ids)) return fail(*e);
    auto& tokens = std::get<std::vector<int32_t>>(ids);
    auto budget = budget_for(context, request.params, static_cast<int64_t>(tokens.size()),
                             kCompletionDefaultMaxTokens, "prompt");
    if (auto* e = std::get_if<ApiError>(&budget)) return fail(*e);
    budgets.push_back(std::get<int64_t>(budget));
    prompts.push_back(std::move(tokens));
  }
  start_call(context, std::move(exchange), ApiKind::completion, std::move(request.params), std::move(prompts),
             std::move(budgets));
}

void handle_chat_completions(ServiceContext& context, const HttpRequest& http, std::shared_ptr<Exchange> exchange) {
  if (refuse_early(context, exchange)) return;
  auto fail = [&](const ApiError& e) { exchange->respond(context.error_answer(e)); };
  auto body = parse_json_body(http.body);
  if (auto* e = std::get_if<ApiError>(&body)) return fail(*e);
  auto parsed = parse_chat_request(std::get<json>(body));
  if (auto* e = std::get_if<ApiError>(&parsed)) return fail(*e);
  auto& request = std::get<ChatRequest>(parsed);
  if (auto e = check_model(context, request.params.model)) return fail(*e);
  auto text = render_chat(context, request.messages, request.add_generation_prompt, request.template_kwargs);
  if (auto* e = std::get_if<ApiError>(&text)) return fail(*e);
  // The template writes the special tokens itself (BOS included), so none are added here (as vLLM).
  auto ids = context.tokenizer.encode(std::get<std::string>(text), /*add_special_tokens=*/false);
  if (!ids.ok()) return fail(bad_request("cannot tokenize the messages: " + ids.status().message(), "messages"));
  if (ids->empty()) return fail(bad_request("the messages render to an empty prompt", "messages"));
  const int64_t prompt_len = static_cast<int64_t>(ids->size());
  auto budget = budget_for(context, request.params, prompt_len, context.config.max_model_len, "messages");
  if (auto* e = std::get_if<ApiError>(&budget)) return fail(*e);
  std::vector<std::vector<int32_t>> prompts{std::move(*ids)};
  start_call(context, std::move(exchange), ApiKind::chat, std::move(request.params), std::move(prompts),
             {std::get<int64_t>(budget)});
}

}  // namespace mixserve
