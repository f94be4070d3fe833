#include "coordinator/openai/response_json.h"

#include <algorithm>
#include <cmath>

namespace mixserve {
namespace {

using json = nlohmann::json;

// JSON has no -inf: a token the model gives zero probability reports the lowest float instead (as vLLM).
json finite(float logprob) { return std::isfinite(logprob) ? logprob : -9999.0f; }

json bytes_of(const std::string& s) {
  json bytes = json::array();
  for (unsigned char c : s) bytes.push_back(static_cast<int>(c));
  return bytes;
}

json choice_json(const ResponseMeta& meta, const ChoiceDelta& c, bool streaming) {
  json choice = {{"index", c.index}};
  json logprobs = nullptr;
  if (c.with_logprobs) {
    logprobs = meta.kind == ApiKind::completion ? completion_logprobs_json(c.logprobs, c.text_offset)
                                                : chat_logprobs_json(c.logprobs);
  }
  if (meta.kind == ApiKind::completion) {
    choice["text"] = c.text;
    choice["logprobs"] = logprobs;
  } else if (streaming) {
    json delta = json::object();
    if (c.role) delta["role"] = "assistant";
    if (c.role || !c.text.empty()) delta["content"] = c.text;
    choice["delta"] = delta;
    choice["logprobs"] = logprobs;
  } else {
    choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    choice["logprobs"] = logprobs;
  }
  choice["finish_reason"] = c.finish_reason ? json(*c.finish_reason) : json(nullptr);
  if (!streaming && meta.kind == ApiKind::completion) choice["stop_reason"] = nullptr;
  return choice;
}

json envelope(const ResponseMeta& meta, bool streaming) {
  const char* object = meta.kind == ApiKind::completion ? "text_completion"
                       : streaming                      ? "chat.completion.chunk"
                                                        : "chat.completion";
  return {{"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", meta.model}};
}

}  // namespace

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json usage_json(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

json completion_logprobs_json(const std::vector<TokenLogprob>& tokens, size_t text_offset) {
  json out = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  size_t offset = text_offset;
  for (const auto& t : tokens) {
    out["tokens"].push_back(t.token);
    out["token_logprobs"].push_back(finite(t.logprob));
    json top = json::object();
    for (const auto& [text, lp] : t.top) {
      if (!top.contains(text)) top[text] = finite(lp);  // two ids may decode alike; keep the likelier
    }
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(offset);
    offset += t.token.size();
  }
  return out;
}

json chat_logprobs_json(const std::vector<TokenLogprob>& tokens) {
  json content = json::array();
  for (const auto& t : tokens) {
    json top = json::array();
    for (const auto& [text, lp] : t.top) {
      top.push_back({{"token", text}, {"logprob", finite(lp)}, {"bytes", bytes_of(text)}});
    }
    content.push_back({{"token", t.token}, {"logprob", finite(t.logprob)}, {"bytes", bytes_of(t.token)},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}};
}

std::string full_response_body(const ResponseMeta& meta, const std::vector<ChoiceDelta>& choices, const Usage& usage) {
  json body = envelope(meta, false);
  std::vector<const ChoiceDelta*> sorted;
  for (const auto& c : choices) sorted.push_back(&c);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->index < b->index; });
  body["choices"] = json::array();
  for (const ChoiceDelta* c : sorted) body["choices"].push_back(choice_json(meta, *c, false));
  body["usage"] = usage_json(usage);
  return dump_json(body);
}

std::string chunk_body(const ResponseMeta& meta, const ChoiceDelta& delta, bool include_usage) {
  json body = envelope(meta, true);
  body["choices"] = json::array({choice_json(meta, delta, true)});
  if (include_usage) body["usage"] = nullptr;
  return dump_json(body);
}

std::string usage_chunk_body(const ResponseMeta& meta, const Usage& usage) {
  json body = envelope(meta, true);
  body["choices"] = json::array();
  body["usage"] = usage_json(usage);
  return dump_json(body);
}

}  // namespace mixserve
