#include "coordinator/chat/chat_template.h"

#include <algorithm>

#include "coordinator/chat/jinja_ast.h"
#include "coordinator/chat/jinja_evaluator.h"
#include "coordinator/chat/jinja_parser.h"

namespace mixserve {

struct ChatTemplate::Program {
  jinja::Body body;
};

Result<ChatTemplate> ChatTemplate::parse(const std::string& source) {
  MIXSERVE_ASSIGN_OR_RETURN(jinja::Body body, jinja::parse_template(source));
  auto program = std::make_shared<Program>();
  program->body = std::move(body);
  return ChatTemplate(std::move(program));
}

template <typename Json>
Result<std::string> ChatTemplate::render_json(const Json& messages, bool add_generation_prompt,
                                              const Json& extra_context) const {
  if (!messages.is_array()) return invalid_argument("chat messages must be a JSON array");
  if (!extra_context.is_null() && !extra_context.is_object())
    return invalid_argument("chat template extra context must be a JSON object");
  jinja::ValueDict variables;
  // HF passes tools=None and documents=None when the request has none: `tools is defined` holds, `tools` is falsy.
  variables.emplace_back("tools", jinja::Value());
  variables.emplace_back("documents", jinja::Value());
  if (extra_context.is_object()) {
    for (auto it = extra_context.begin(); it != extra_context.end(); ++it) {
      if (it.key() == "messages" || it.key() == "add_generation_prompt")
        return invalid_argument("chat template extra context must not set '" + it.key() + "'");
      auto existing = std::find_if(variables.begin(), variables.end(), [&](auto& kv) { return kv.first == it.key(); });
      if (existing != variables.end()) existing->second = jinja::Value::from_json(it.value());
      else variables.emplace_back(it.key(), jinja::Value::from_json(it.value()));
    }
  }
  variables.emplace_back("messages", jinja::Value::from_json(messages));
  variables.emplace_back("add_generation_prompt", jinja::Value(add_generation_prompt));
  return jinja::render_template(program_->body, variables);
}

Result<std::string> ChatTemplate::render(const nlohmann::json& messages, bool add_generation_prompt,
                                         const nlohmann::json& extra_context) const {
  return render_json(messages, add_generation_prompt, extra_context);
}

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                         const nlohmann::ordered_json& extra_context) const {
  return render_json(messages, add_generation_prompt, extra_context);
}

}  // namespace mixserve
