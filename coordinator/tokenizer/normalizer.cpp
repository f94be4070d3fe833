#include "coordinator/tokenizer/normalizer.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "coordinator/tokenizer/json_fields.h"
#include "coordinator/tokenizer/pattern.h"

namespace mixserve {

namespace {

using nlohmann::json;

// HF adds the prefix only to non-empty text (an empty piece stays empty and yields no token).
class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  Result<std::string> normalize(std::string text) const override {
    if (text.empty()) return text;
    return prefix_ + text;
  }

 private:
  std::string prefix_;
};

class Replace final : public Normalizer {
 public:
  Replace(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  Result<std::string> normalize(std::string text) const override { return pattern_.replace_all(text, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  Result<std::string> normalize(std::string text) const override {
    for (const auto& step : steps_) {
      MIXSERVE_ASSIGN_OR_RETURN(text, step->normalize(std::move(text)));
    }
    return text;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

Result<std::unique_ptr<Normalizer>> normalizer_from_json(const json& j) {
  if (j.is_null()) return std::unique_ptr<Normalizer>();
  const std::string where = "normalizer";
  MIXSERVE_ASSIGN_OR_RETURN(const std::string type, json_type_of(j, where));
  if (type == "Prepend") {
    MIXSERVE_ASSIGN_OR_RETURN(std::string prefix, json_string(j, "prepend", where));
    return std::unique_ptr<Normalizer>(std::make_unique<Prepend>(std::move(prefix)));
  }
  if (type == "Replace") {
    if (!j.contains("pattern")) return invalid_argument("normalizer Replace: missing 'pattern'");
    MIXSERVE_ASSIGN_OR_RETURN(Pattern pattern, Pattern::from_json(j["pattern"], "normalizer Replace"));
    MIXSERVE_ASSIGN_OR_RETURN(std::string content, json_string(j, "content", "normalizer Replace"));
    return std::unique_ptr<Normalizer>(std::make_unique<Replace>(std::move(pattern), std::move(content)));
  }
  if (type == "Sequence") {
    MIXSERVE_ASSIGN_OR_RETURN(const json* items, json_array(j, "normalizers", "normalizer Sequence"));
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const json& item : *items) {
      MIXSERVE_ASSIGN_OR_RETURN(auto step, normalizer_from_json(item));
      if (step) steps.push_back(std::move(step));
    }
    return std::unique_ptr<Normalizer>(std::make_unique<Sequence>(std::move(steps)));
  }
  return unsupported("normalizer type '" + type + "' is not supported (supported: Prepend, Replace, Sequence)");
}

}  // namespace mixserve
