#include "tools/cli/token_id_list.h"

#include <climits>
#include <sstream>
#include <stdexcept>

namespace mixserve::cli {

Result<std::vector<int32_t>> parse_token_id_list(const std::string& text, const std::string& flag,
                                                 bool allow_negative) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  std::string item;
  const long long lowest = allow_negative ? INT32_MIN : 0;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const long long v = std::stoll(item, &used);
      if (used != item.size() || v < lowest || v > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      return invalid_argument(flag + ": '" + item + "' is not a token id");
    }
  }
  return ids;
}

}  // namespace mixserve::cli
