#pragma once
// A model's chat template (`chat_template` of tokenizer_config.json), rendered the way HF transformers'
// apply_chat_template(messages, tokenize=False, add_generation_prompt=...) renders it: jinja2 with
// trim_blocks and lstrip_blocks, variables `messages`, `add_generation_prompt`, `tools` and `documents` (None
// unless given), the tokenizer's special tokens from the caller, and the functions raise_exception,
// strftime_now and namespace. The Jinja subset and its errors are described in docs/chat_templates.md.
//
// parse() rejects any construct outside the subset ("unsupported Jinja construct 'X' at line L"), so a model
// whose template cannot be rendered exactly fails when it is loaded, not with a silently different prompt.
// A parsed ChatTemplate is immutable; render() may be called from several threads at once.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace mixserve {

class ChatTemplate {
 public:
  // Errors: unsupported (a construct outside the subset), invalid_argument (a syntax error); both name the line.
  static Result<ChatTemplate> parse(const std::string& source);

  // `messages`: the OpenAI-style list of {"role", "content", ...} objects. `extra_context`: an object of further
  // template variables, typically bos_token, eos_token and the other special tokens; it must not set
  // `messages` or `add_generation_prompt`. Errors: invalid_argument with exactly the template's message when it
  // calls raise_exception (e.g. roles that do not alternate), otherwise invalid_argument or unsupported with
  // "chat template error at line L: ...".
  Result<std::string> render(const nlohmann::json& messages, bool add_generation_prompt,
                             const nlohmann::json& extra_context) const;
  // The same with insertion-ordered objects: use it when a template iterates over or prints a dict (tool schemas
  // through tojson, `for k, v in d.items()`), where Python keeps the caller's key order and nlohmann::json sorts.
  Result<std::string> render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                             const nlohmann::ordered_json& extra_context) const;

 private:
  struct Program;
  explicit ChatTemplate(std::shared_ptr<const Program> program) : program_(std::move(program)) {}
  template <typename Json>
  Result<std::string> render_json(const Json& messages, bool add_generation_prompt, const Json& extra_context) const;

  std::shared_ptr<const Program> program_;
};

}  // namespace mixserve
