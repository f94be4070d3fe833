#pragma once
// POST /v1/completions and POST /v1/chat/completions: parse and validate the body, check the model name,
// turn prompts (or messages, through the chat template) into token ids, check them against the vocabulary and
// the context length, then hand over to a GenerationCall. Every refusal is an OpenAI error answer.
// Runs on the connection's strand (HttpHandler::handle).
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "coordinator/http/exchange.h"
#include "coordinator/http/http_message.h"
#include "coordinator/openai/service_context.h"

namespace mixserve {

void handle_completions(ServiceContext& context, const HttpRequest& request, std::shared_ptr<Exchange> exchange);
void handle_chat_completions(ServiceContext& context, const HttpRequest& request, std::shared_ptr<Exchange> exchange);

// Shared with /tokenize: 404 unless `model` is empty or the served name.
std::optional<ApiError> check_model(const ServiceContext& context, const std::string& model);
// The chat template's text for `messages` (400 when the model has none or rendering fails).
std::variant<std::string, ApiError> render_chat(const ServiceContext& context, const nlohmann::json& messages,
                                                bool add_generation_prompt, const nlohmann::json& template_kwargs);

}  // namespace mixserve
