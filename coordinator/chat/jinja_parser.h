#pragma once
// Statement parsing for the chat-template subset: text, {{ expr }}, if/elif/else, for (tuple targets, an
// `if` filter, else), set (name, tuple, namespace attribute, and the {% set x %}...{% endset %} block),
// break/continue (HF enables jinja2's loopcontrols) and HF's {% generation %} marker. Every other tag
// (macro, call, include, import, extends, block, filter, with, raw, ...) is rejected with
// "unsupported Jinja construct '<tag>' at line L" so an unsupported template fails when it is loaded.
#include <string>

#include "coordinator/chat/jinja_ast.h"
#include "core/status.h"

namespace mixserve::jinja {

Result<Body> parse_template(const std::string& source);

}  // namespace mixserve::jinja
