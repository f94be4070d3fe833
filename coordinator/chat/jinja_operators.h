#pragma once
// Python's operators on template values, as jinja2 evaluates them: + - * / // % ** with int/float promotion
// (bool counts as int), str and list concatenation and repetition, ~ (string concatenation of str() of both
// sides), comparisons, `in`, and slicing with Python's index clamping. Using Undefined as an operand is an
// error carrying its message ("'x' is undefined"), except for ~, ==, != and `in`, where jinja2's Undefined
// behaves as "", an object equal only to Undefined, and an empty iterable.
#include <string_view>

#include "coordinator/chat/jinja_value.h"
#include "core/status.h"

namespace mixserve::jinja {

Result<Value> binary_op(std::string_view op, const Value& x, const Value& y);
Result<Value> unary_op(std::string_view op, const Value& x);  // "-" or "+"
Result<bool> compare_op(std::string_view op, const Value& x, const Value& y);  // == != < <= > >= in, not in
// x[start:stop:step] for lists, tuples and strings (by code point); absent bounds are None.
Result<Value> slice_value(const Value& x, const Value& start, const Value& stop, const Value& step);

}  // namespace mixserve::jinja
