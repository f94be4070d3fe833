#include "coordinator/openai/tokenize_routes.h"

#include "coordinator/openai/field_reader.h"
#include "coordinator/openai/generation_routes.h"
#include "coordinator/openai/openai_request.h"
#include "coordinator/openai/response_json.h"

namespace mixserve {
namespace {

using json = nlohmann::json;

std::variant<std::string, ApiError> text_to_tokenize(ServiceContext& context, const json& body, FieldReader& r,
                                                     bool* add_special_tokens) {
  if (r.field("messages")) {
    // The chat path of parse_chat_request validates the messages; its sampling fields are absent here.
    auto chat = parse_chat_request(body);
    if (auto* e = std::get_if<ApiError>(&chat)) return *e;
    const auto& request = std::get<ChatRequest>(chat);
    *add_special_tokens = r.boolean("add_special_tokens").value_or(false);
    return render_chat(context, request.messages, request.add_generation_prompt, request.template_kwargs);
  }
  *add_special_tokens = r.boolean("add_special_tokens").value_or(true);
  auto prompt = r.string("prompt");
  if (!r.ok()) return r.error();
  if (!prompt) return bad_request("'prompt' or 'messages' is required", "prompt");
  return *prompt;
}

}  // namespace

HttpResponse handle_tokenize(ServiceContext& context, const HttpRequest& request) {
  auto body = parse_json_body(request.body);
  if (auto* e = std::get_if<ApiError>(&body)) return context.error_answer(*e);
  const json& object = std::get<json>(body);
  FieldReader r(object);
  if (auto e = check_model(context, r.string("model").value_or(""))) return context.error_answer(*e);
  bool add_special_tokens = true;
  auto text = text_to_tokenize(context, object, r, &add_special_tokens);
  if (auto* e = std::get_if<ApiError>(&text)) return context.error_answer(*e);
  const bool token_strs = r.boolean("return_token_strs").value_or(false);
  if (!r.ok()) return context.error_answer(r.error());
  auto ids = context.tokenizer.encode(std::get<std::string>(text), add_special_tokens);
  if (!ids.ok()) return context.error_answer(bad_request(ids.status().message(), "prompt"));
  json out = {{"count", ids->size()}, {"max_model_len", context.config.max_model_len}, {"tokens", *ids}};
  if (token_strs) {
    json strs = json::array();
    for (int32_t id : *ids) strs.push_back(context.tokenizer.token_text(id));
    out["token_strs"] = std::move(strs);
  }
  return {.body = dump_json(out)};
}

HttpResponse handle_detokenize(ServiceContext& context, const HttpRequest& request) {
  auto body = parse_json_body(request.body);
  if (auto* e = std::get_if<ApiError>(&body)) return context.error_answer(*e);
  FieldReader r(std::get<json>(body));
  if (auto e = check_model(context, r.string("model").value_or(""))) return context.error_answer(*e);
  const bool skip_special = r.boolean("skip_special_tokens").value_or(false);
  if (!r.ok()) return context.error_answer(r.error());
  const json* tokens = r.field("tokens");
  if (!tokens || !tokens->is_array()) {
    return context.error_answer(bad_request("'tokens' must be an array of token ids", "tokens"));
  }
  std::vector<int32_t> ids;
  const int64_t vocab = context.tokenizer.vocab_size();
  for (const auto& t : *tokens) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= vocab) {
      return context.error_answer(
          bad_request("'tokens' must hold token ids in [0, " + std::to_string(vocab) + ")", "tokens"));
    }
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  auto text = context.tokenizer.decode(ids, skip_special);
  if (!text.ok()) return context.error_answer(bad_request(text.status().message(), "tokens"));
  return {.body = dump_json(json{{"prompt", *text}})};
}

}  // namespace mixserve
