#include "coordinator/openai/openai_request.h"

#include <climits>

#include "coordinator/openai/field_reader.h"

namespace mixserve {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxPrompts = 256;

void parse_stop(FieldReader& r, GenerationParams& p) {
  const json* stop = r.field("stop");
  if (!stop) return;
  if (stop->is_string()) {
    p.stop.push_back(stop->get<std::string>());
  } else if (stop->is_array()) {
    for (const auto& s : *stop) {
      if (!s.is_string()) return r.fail(bad_request("'stop' must be a string or an array of strings", "stop"));
      p.stop.push_back(s.get<std::string>());
    }
  } else {
    return r.fail(bad_request("'stop' must be a string or an array of strings, got " + json_type_name(*stop), "stop"));
  }
  if (p.stop.size() > static_cast<size_t>(kMaxStopStrings)) {
    return r.fail(bad_request("'stop' has more than " + std::to_string(kMaxStopStrings) + " strings", "stop"));
  }
  for (const auto& s : p.stop) {
    if (s.empty()) return r.fail(bad_request("'stop' strings must not be empty", "stop"));
  }
}

void parse_stream(FieldReader& r, GenerationParams& p) {
  p.stream = r.boolean("stream").value_or(false);
  const json* options = r.field("stream_options");
  if (!options) return;
  if (!options->is_object()) {
    return r.fail(bad_request("'stream_options' must be an object, got " + json_type_name(*options), "stream_options"));
  }
  if (!p.stream) return r.fail(bad_request("'stream_options' is only allowed with stream: true", "stream_options"));
  FieldReader inner(*options);
  p.include_usage = inner.boolean("include_usage").value_or(false);
  if (!inner.ok()) {
    ApiError e = inner.error();
    e.param = "stream_options.include_usage";
    r.fail(std::move(e));
  }
}

void parse_logprobs(FieldReader& r, ApiKind kind, GenerationParams& p) {
  if (kind == ApiKind::completion) {
    if (auto n = r.integer("logprobs", 0, kMaxLogprobs)) {
      p.logprobs = true;
      p.sampling.n_logprobs = static_cast<int>(*n);
    }
    return;
  }
  p.logprobs = r.boolean("logprobs").value_or(false);
  if (auto top = r.integer("top_logprobs", 0, kMaxLogprobs)) {
    if (!p.logprobs && *top > 0) {
      return r.fail(bad_request("'top_logprobs' requires 'logprobs': true", "top_logprobs"));
    }
    p.sampling.n_logprobs = static_cast<int>(*top);
  }
}

void parse_sampling(FieldReader& r, GenerationParams& p) {
  cpu::SamplingParams& s = p.sampling;
  s.temperature = static_cast<float>(r.number("temperature", 0, 2).value_or(1.0));
  s.top_p = static_cast<float>(r.number("top_p", 0, 1, /*lo_open=*/true).value_or(1.0));
  s.top_k = static_cast<int>(r.integer("top_k", -1, INT_MAX).value_or(0));
  s.min_p = static_cast<float>(r.number("min_p", 0, 1).value_or(0.0));
  s.presence_penalty = static_cast<float>(r.number("presence_penalty", -2, 2).value_or(0.0));
  s.frequency_penalty = static_cast<float>(r.number("frequency_penalty", -2, 2).value_or(0.0));
  s.repetition_penalty = static_cast<float>(r.number("repetition_penalty", 0, 10, /*lo_open=*/true).value_or(1.0));
  if (auto seed = r.integer("seed", INT64_MIN, INT64_MAX)) {
    s.seed = static_cast<uint64_t>(*seed);
    p.seed_given = true;
  }
}

// Known OpenAI fields this server does not implement: refused rather than silently ignored, since a client
// that sends them expects their effect. Empty values ask for nothing and pass.
void reject_unsupported(FieldReader& r, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    const json* v = r.field(key);
    if (!v || (v->is_object() && v->empty()) || (v->is_array() && v->empty())) continue;
    if (std::string(key) == "response_format" && v->is_object() && v->value("type", "") == "text") continue;
    r.fail(bad_request("'" + std::string(key) + "' is not supported by this server", key));
  }
}

void parse_common(FieldReader& r, ApiKind kind, GenerationParams& p) {
  p.model = r.string("model").value_or("");
  p.max_tokens = r.integer("max_tokens", 1, INT32_MAX);
  if (kind == ApiKind::chat) {
    if (auto m = r.integer("max_completion_tokens", 1, INT32_MAX)) p.max_tokens = m;
  }
  p.n = static_cast<int>(r.integer("n", 1, kMaxChoices).value_or(1));
  parse_sampling(r, p);
  parse_stop(r, p);
  parse_stream(r, p);
  parse_logprobs(r, kind, p);
  p.ignore_eos = r.boolean("ignore_eos").value_or(false);
  p.skip_special_tokens = r.boolean("skip_special_tokens").value_or(true);
  p.user = r.string("user").value_or("");
  reject_unsupported(r, {"logit_bias"});
  if (kind == ApiKind::chat) reject_unsupported(r, {"tools", "functions", "response_format"});
}

// One array of token ids; false when an element is not a non-negative integer.
bool read_ids(const json& array, std::vector<int64_t>& ids) {
  for (const auto& v : array) {
    if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0)) {
      return false;
    }
    ids.push_back(v.get<int64_t>());
  }
  return true;
}

void parse_prompt(FieldReader& r, std::vector<PromptInput>& prompts) {
  const json* prompt = r.field("prompt");
  const char* kShape = "'prompt' must be a string, an array of strings, an array of token ids or an array of "
                       "arrays of token ids";
  if (!prompt) return r.fail(bad_request("'prompt' is required", "prompt"));
  if (prompt->is_string()) {
    prompts.push_back({.text = prompt->get<std::string>()});
    return;
  }
  if (!prompt->is_array() || prompt->empty()) return r.fail(bad_request(kShape, "prompt"));
  if (prompt->size() > kMaxPrompts) {
    return r.fail(bad_request("'prompt' has more than " + std::to_string(kMaxPrompts) + " prompts", "prompt"));
  }
  const json& first = prompt->front();
  if (first.is_number()) {
    PromptInput input;
    if (!read_ids(*prompt, input.ids)) return r.fail(bad_request(kShape, "prompt"));
    prompts.push_back(std::move(input));
    return;
  }
  for (const auto& item : *prompt) {
    if (item.is_string() && first.is_string()) {
      prompts.push_back({.text = item.get<std::string>()});
    } else if (item.is_array() && first.is_array() && !item.empty()) {
      PromptInput input;
      if (!read_ids(item, input.ids)) return r.fail(bad_request(kShape, "prompt"));
      prompts.push_back(std::move(input));
    } else {
      return r.fail(bad_request(kShape, "prompt"));
    }
  }
}

// content: a string, null, or [{type: "text", text}] (flattened with "\n" as vLLM does).
std::optional<ApiError> flatten_content(json& message, size_t index) {
  const std::string param = "messages[" + std::to_string(index) + "].content";
  auto it = message.find("content");
  if (it == message.end() || it->is_null()) {
    message["content"] = "";
    return std::nullopt;
  }
  if (it->is_string()) return std::nullopt;
  if (!it->is_array()) return bad_request("'" + param + "' must be a string or an array of content parts", param);
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& part = (*it)[i];
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
      return bad_request("'" + param + "' parts must be objects with a 'type'", param);
    }
    if (part["type"] != "text") {
      return bad_request("content part type '" + part["type"].get<std::string>() + "' is not supported", param);
    }
    if (!part.contains("text") || !part["text"].is_string()) {
      return bad_request("'" + param + "' text parts need a string 'text'", param);
    }
    if (i > 0) text += "\n";
    text += part["text"].get<std::string>();
  }
  message["content"] = text;
  return std::nullopt;
}

void parse_messages(FieldReader& r, json& out) {
  const json* messages = r.field("messages");
  if (!messages) return r.fail(bad_request("'messages' is required", "messages"));
  if (!messages->is_array() || messages->empty()) {
    return r.fail(bad_request("'messages' must be a non-empty array of messages", "messages"));
  }
  out = json::array();
  for (size_t i = 0; i < messages->size(); ++i) {
    json message = (*messages)[i];
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) return r.fail(bad_request("'" + param + "' must be an object", param));
    auto role = message.find("role");
    if (role == message.end() || !role->is_string()) {
      return r.fail(bad_request("'" + param + ".role' must be a string", param + ".role"));
    }
    static const char* kRoles[] = {"system", "developer", "user", "assistant", "tool"};
    bool known = false;
    for (const char* k : kRoles) known = known || *role == k;
    if (!known) {
      return r.fail(bad_request("'" + param + ".role' must be one of system, developer, user, assistant, tool",
                                param + ".role"));
    }
    if (auto error = flatten_content(message, i)) return r.fail(std::move(*error));
    out.push_back(std::move(message));
  }
}

}  // namespace

std::variant<nlohmann::json, ApiError> parse_json_body(const std::string& body) {
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::exception& e) {
    return bad_request(std::string("the body is not valid JSON: ") + e.what());
  }
  if (!parsed.is_object()) return bad_request("the body must be a JSON object, got " + json_type_name(parsed));
  return parsed;
}

std::variant<CompletionRequest, ApiError> parse_completion_request(const nlohmann::json& body) {
  FieldReader r(body);
  CompletionRequest request;
  parse_common(r, ApiKind::completion, request.params);
  parse_prompt(r, request.prompts);
  request.echo = r.boolean("echo").value_or(false);
  if (r.ok() && request.echo) r.fail(bad_request("'echo' is not supported", "echo"));
  if (r.ok() && r.integer("best_of", 1, kMaxChoices).value_or(request.params.n) != request.params.n) {
    r.fail(bad_request("'best_of' other than n is not supported", "best_of"));
  }
  if (!r.ok()) return r.error();
  return request;
}

std::variant<ChatRequest, ApiError> parse_chat_request(const nlohmann::json& body) {
  FieldReader r(body);
  ChatRequest request;
  parse_common(r, ApiKind::chat, request.params);
  parse_messages(r, request.messages);
  request.add_generation_prompt = r.boolean("add_generation_prompt").value_or(true);
  if (const json* kwargs = r.field("chat_template_kwargs")) {
    if (kwargs->is_object()) {
      request.template_kwargs = *kwargs;
    } else {
      r.fail(bad_request("'chat_template_kwargs' must be an object", "chat_template_kwargs"));
    }
  }
  if (!r.ok()) return r.error();
  return request;
}

}  // namespace mixserve
