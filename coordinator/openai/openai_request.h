#pragma once
// The bodies of POST /v1/completions and /v1/chat/completions, parsed and validated field by field (serving.md:
// unknown fields are ignored, wrong types and out-of-range values are 400 naming the field). Text is not
// tokenized here: prompts and messages come out as given; openai_service turns them into token ids.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/openai/api_error.h"
#include "kernels/cpu/sampling.h"

namespace mixserve {

enum class ApiKind { completion, chat };

// What both endpoints share.
struct GenerationParams {
  std::string model;                 // empty: the served model
  std::optional<int64_t> max_tokens; // per choice; nullopt: the endpoint's default
  int n = 1;
  std::vector<std::string> stop;
  cpu::SamplingParams sampling;      // temperature, top_p/k, min_p, penalties, seed, n_logprobs
  bool seed_given = false;
  bool logprobs = false;             // completions: "logprobs" is an int (top count); chat: a bool + top_logprobs
  bool ignore_eos = false;
  bool skip_special_tokens = true;
  bool stream = false;
  bool include_usage = false;        // stream_options.include_usage
  std::string user;
};

// A completions prompt: text, or token ids given directly.
struct PromptInput {
  std::optional<std::string> text;
  std::vector<int64_t> ids;  // when !text; range-checked against the vocabulary by the service
};

struct CompletionRequest {
  GenerationParams params;
  std::vector<PromptInput> prompts;  // one request may carry several prompts; each gets n choices
  bool echo = false;
};

struct ChatRequest {
  GenerationParams params;
  // The messages as the chat template sees them: [{role, content: string}], with OpenAI's content-part arrays
  // of text flattened into one string.
  nlohmann::json messages;
  bool add_generation_prompt = true;
  nlohmann::json template_kwargs = nlohmann::json::object();  // chat_template_kwargs
};

// The limits of the fields; the engine's own limits (context length, vocabulary) are checked later.
inline constexpr int kMaxChoices = 128;
inline constexpr int kMaxLogprobs = 20;
inline constexpr int kMaxStopStrings = 16;

std::variant<CompletionRequest, ApiError> parse_completion_request(const nlohmann::json& body);
std::variant<ChatRequest, ApiError> parse_chat_request(const nlohmann::json& body);
// The JSON body itself: a 400 for malformed JSON or a non-object.
std::variant<nlohmann::json, ApiError> parse_json_body(const std::string& body);

}  // namespace mixserve
