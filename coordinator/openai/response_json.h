#pragma once
// The JSON shapes of OpenAI answers: text_completion, chat.completion and chat.completion.chunk objects, the
// two logprobs formats (completions: tokens/token_logprobs/top_logprobs/text_offset; chat: content[] with
// bytes), and usage. Pure functions of their inputs, so tests pin the shapes without a server.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/openai/openai_request.h"

namespace mixserve {

struct TokenLogprob {
  std::string token;  // the token's text as decode([id]) gives it
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;  // most likely first
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

struct ResponseMeta {
  ApiKind kind = ApiKind::completion;
  std::string id;  // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;
  std::string model;
};

// One choice's contribution: the whole answer (non-streaming) or one chunk's delta (streaming).
struct ChoiceDelta {
  int index = 0;
  std::string text;
  bool with_logprobs = false;
  std::vector<TokenLogprob> logprobs;
  size_t text_offset = 0;          // completions: offset of the first token's text within the choice
  std::optional<std::string> finish_reason;  // "stop", "length", "abort"
  bool role = false;               // chat streaming: the first chunk announces role "assistant"
};

nlohmann::json usage_json(const Usage& usage);
nlohmann::json completion_logprobs_json(const std::vector<TokenLogprob>& tokens, size_t text_offset);
nlohmann::json chat_logprobs_json(const std::vector<TokenLogprob>& tokens);

// Non-streaming answer with every choice (sorted by index) and usage.
std::string full_response_body(const ResponseMeta& meta, const std::vector<ChoiceDelta>& choices, const Usage& usage);
// One streaming chunk carrying one choice; with include_usage, "usage": null as serving.md asks.
std::string chunk_body(const ResponseMeta& meta, const ChoiceDelta& delta, bool include_usage);
// The last chunk of a stream with include_usage: "choices": [] and the usage.
std::string usage_chunk_body(const ResponseMeta& meta, const Usage& usage);

// JSON text that never throws on invalid UTF-8 (replaced by U+FFFD).
std::string dump_json(const nlohmann::json& value);

}  // namespace mixserve
