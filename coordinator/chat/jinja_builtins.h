#pragma once
// Attribute and item access, the Python methods templates call on str and dict values, and the global
// functions HF's environment provides. Access follows jinja2: `obj.name` prefers a method of obj's type and
// falls back to obj["name"]; `obj[key]` prefers the item and falls back to a method; a missing key, index or
// attribute yields Undefined carrying jinja2's message ("'dict object' has no attribute 'x'"), which is only
// an error when the template goes on to use it.
//
// Methods: str.strip/lstrip/rstrip/split/startswith/endswith/upper/lower/title/capitalize/replace/join,
// dict.items/keys/values/get. Globals: namespace(**kw), dict(**kw), range(...), strftime_now(format) and
// raise_exception(message) (the last one is handled by the evaluator).
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/chat/jinja_filters.h"
#include "coordinator/chat/jinja_value.h"
#include "core/status.h"

namespace mixserve::jinja {

Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);

bool is_supported_method(std::string_view name);
bool is_global_function(std::string_view name);

Result<Value> call_method(const Value& receiver, std::string_view name, const CallArgs& args);
Result<Value> call_global(std::string_view name, const CallArgs& args);

// Binds a call's arguments to named parameters the way Python does: positionals in order, then keywords by
// name; unknown names and surplus positionals are errors naming `function`. Absent parameters are nullopt.
Result<std::vector<std::optional<Value>>> bind_args(const CallArgs& args, std::initializer_list<const char*> params,
                                                    std::string_view function);

}  // namespace mixserve::jinja
