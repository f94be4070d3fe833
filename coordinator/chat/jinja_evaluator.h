#pragma once
// Runs a parsed chat template. Scoping follows jinja2: `{% set %}` at the top level or inside if-blocks binds
// in the template's scope; each for-loop iteration gets a fresh scope that starts from the enclosing one and is
// discarded afterwards (so a counter must live in a namespace() object); `loop` describes the innermost loop.
//
// Errors: raise_exception(msg) ends rendering with invalid_argument and exactly `msg`; any other runtime
// failure (an attribute of an undefined value, a type error, a value the subset cannot handle) is
// invalid_argument or unsupported with "chat template error at line L: ..." in front of jinja2's wording.
#include <string>

#include "coordinator/chat/jinja_ast.h"
#include "coordinator/chat/jinja_value.h"
#include "core/status.h"

namespace mixserve::jinja {

// `variables` are the template's inputs (messages, bos_token, ...); the global functions are added here and
// can be shadowed by a variable of the same name.
Result<std::string> render_template(const Body& body, const ValueDict& variables);

}  // namespace mixserve::jinja
