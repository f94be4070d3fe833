#pragma once
// Python string semantics the chat-template interpreter needs to match HF's jinja2 output byte for byte:
// code-point indexing, str.strip()/split() with Python's notion of whitespace, repr() of strings and floats,
// and json.dumps string escaping (ensure_ascii=False). Strings are UTF-8; an invalid byte is carried through
// unchanged as one "code point" so text round-trips even when it is not valid UTF-8.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mixserve::jinja {

// Byte offsets of each code point's start, followed by s.size(): code point i is [off[i], off[i + 1]).
std::vector<size_t> code_point_offsets(std::string_view s);
size_t code_point_count(std::string_view s);

// Python's str.isspace() for the code point starting at s[pos]; `width` receives its byte length.
bool is_python_space_at(std::string_view s, size_t pos, size_t* width);

enum class StripSide { both, left, right };
// str.strip() / lstrip() / rstrip(): Python whitespace when `chars` is empty, else any code point in `chars`.
std::string python_strip(std::string_view s, StripSide side, std::optional<std::string_view> chars = std::nullopt);
// str.split(): on runs of Python whitespace when `sep` is empty (dropping empty ends), else on `sep` exactly.
std::vector<std::string> python_split(std::string_view s, std::optional<std::string_view> sep, long maxsplit);
// str.replace(old, new, count); count < 0 means all.
std::string python_replace(std::string_view s, std::string_view old_sub, std::string_view new_sub, long count);

// ASCII-only case mapping. Python maps non-ASCII letters too; rather than silently diverge, these return
// nullopt when `s` has any non-ASCII byte and the caller reports the construct as unsupported for that text.
std::optional<std::string> ascii_upper(std::string_view s);
std::optional<std::string> ascii_lower(std::string_view s);
std::optional<std::string> ascii_title(std::string_view s);
std::optional<std::string> ascii_capitalize(std::string_view s);

// repr(str): single quotes unless the text has ' and no ", with Python's escapes for control characters.
std::string python_repr_string(std::string_view s);
// repr(float) as Python prints it: shortest round-trip digits, "1.0", "1e-05", "1e+16", "inf", "nan".
std::string python_float_repr(double v);
// json.dumps(str, ensure_ascii=False) including the quotes.
std::string json_quote(std::string_view s);

}  // namespace mixserve::jinja
