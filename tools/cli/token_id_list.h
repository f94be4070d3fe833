#pragma once
// Parses a comma-separated token id list from a command-line flag ("1,2,3"). Each item must be a whole
// int32; the error names the flag and the bad item. Range checks against a vocabulary are the caller's
// (decode reports out-of-vocabulary ids itself, so negative ids pass through when allowed).
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace mixserve::cli {

Result<std::vector<int32_t>> parse_token_id_list(const std::string& text, const std::string& flag,
                                                 bool allow_negative);

}  // namespace mixserve::cli
