#pragma once
// The filters (`x | f(...)`) and tests (`x is t(...)`) of the chat-template subset, with jinja2's behaviour
// under HF's settings, including its treatment of Undefined (`undefined | length` is 0, `| trim` is "",
// `| tojson` is an error). HF replaces jinja2's tojson with json.dumps(ensure_ascii=False, indent=...,
// sort_keys=...), which is what `tojson` does here (no HTML escaping).
//
// Filters: abs, capitalize, count, d, default, first, float, int, items, join, last, length, list, lower, map,
// reject, rejectattr, replace, reverse, safe, select, selectattr, string, title, tojson, trim, upper.
// Tests: boolean, callable, defined, divisibleby, eq, equalto, even, false, float, ge, gt, in, integer,
// iterable, le, lower, lt, mapping, ne, none, number, odd, sameas, sequence, string, true, undefined, upper,
// and the operator spellings ==, !=, <, <=, >, >= (used by name in select/selectattr).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coordinator/chat/jinja_value.h"
#include "core/status.h"

namespace mixserve::jinja {

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

bool is_supported_filter(std::string_view name);
bool is_supported_test(std::string_view name);

// Errors are invalid_argument (a type error or misuse, as jinja2 would raise) or unsupported (a value this
// subset cannot handle exactly, such as case mapping of non-ASCII text); messages carry no line number.
Result<Value> apply_filter(std::string_view name, const Value& input, const CallArgs& args);
Result<bool> apply_test(std::string_view name, const Value& input, const std::vector<Value>& args);

// Items of a value iterated by a for loop or a filter: list items, dict keys, string code points; Undefined
// iterates as empty. Anything else is an error ("'int object' is not iterable").
Result<ValueList> iterate(const Value& v);

}  // namespace mixserve::jinja
