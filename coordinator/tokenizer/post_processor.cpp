#include "coordinator/tokenizer/post_processor.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "coordinator/tokenizer/json_fields.h"

namespace mixserve {

namespace {

using nlohmann::json;

// Ids to insert, and where the sequence goes (-1 in `pieces`).
class Template final : public PostProcessor {
 public:
  explicit Template(std::vector<std::vector<int32_t>> pieces) : pieces_(std::move(pieces)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids, bool add_special_tokens) const override {
    if (!add_special_tokens) return ids;
    std::vector<int32_t> out;
    for (const auto& piece : pieces_) {
      if (piece.empty()) {
        out.insert(out.end(), ids.begin(), ids.end());
      } else {
        out.insert(out.end(), piece.begin(), piece.end());
      }
    }
    return out;
  }

 private:
  std::vector<std::vector<int32_t>> pieces_;  // an empty piece stands for the sequence
};

class Identity final : public PostProcessor {
 public:
  std::vector<int32_t> process(std::vector<int32_t> ids, bool) const override { return ids; }
};

class Sequence final : public PostProcessor {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PostProcessor>> steps) : steps_(std::move(steps)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids, bool add_special_tokens) const override {
    for (const auto& step : steps_) ids = step->process(std::move(ids), add_special_tokens);
    return ids;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

// A template piece: {"SpecialToken": {"id": name, ...}}, {"Sequence": {"id": "A"|"B", ...}}, or HF's string
// shorthand ("$A", "$0", "<s>", "<s>:1").
struct TemplatePiece {
  bool is_sequence;
  std::string special_token;
};

Result<TemplatePiece> parse_template_piece(const json& piece) {
  if (piece.is_string()) {
    const std::string s = piece.get<std::string>();
    const std::string name = s.substr(0, s.find(':'));
    return TemplatePiece{name.starts_with("$"), name};
  }
  if (piece.is_object() && piece.contains("Sequence")) return TemplatePiece{true, ""};
  if (piece.is_object() && piece.contains("SpecialToken") && piece["SpecialToken"].contains("id") &&
      piece["SpecialToken"]["id"].is_string()) {
    return TemplatePiece{false, piece["SpecialToken"]["id"].get<std::string>()};
  }
  return invalid_argument("post_processor TemplateProcessing: bad template piece " + piece.dump());
}

Result<std::unique_ptr<PostProcessor>> template_from_json(const json& j) {
  const std::string where = "post_processor TemplateProcessing";
  std::map<std::string, std::vector<int32_t>> special_ids;
  if (j.contains("special_tokens") && j["special_tokens"].is_object()) {
    for (const auto& [name, token] : j["special_tokens"].items()) {
      if (!token.contains("ids") || !token["ids"].is_array())
        return invalid_argument(where + ": special token '" + name + "' has no ids");
      for (const json& id : token["ids"]) {
        if (!id.is_number_integer()) return invalid_argument(where + ": special token '" + name + "' has a bad id");
        special_ids[name].push_back(id.get<int32_t>());
      }
    }
  }
  json single = j.contains("single") ? j["single"] : json();
  if (single.is_string()) {  // "<s> $A" shorthand
    json pieces = json::array();
    const std::string s = single.get<std::string>();
    for (size_t at = 0; at < s.size();) {
      const size_t space = std::min(s.find(' ', at), s.size());
      if (space > at) pieces.push_back(s.substr(at, space - at));
      at = space + 1;
    }
    single = pieces;
  }
  if (!single.is_array()) return invalid_argument(where + ": 'single' must be a template");
  std::vector<std::vector<int32_t>> pieces;
  for (const json& piece : single) {
    MIXSERVE_ASSIGN_OR_RETURN(const TemplatePiece p, parse_template_piece(piece));
    if (p.is_sequence) {
      pieces.emplace_back();
      continue;
    }
    const auto it = special_ids.find(p.special_token);
    if (it == special_ids.end() || it->second.empty()) {
      return invalid_argument(where + ": template uses '" + p.special_token +
                              "', which special_tokens does not define");
    }
    pieces.push_back(it->second);
  }
  return std::unique_ptr<PostProcessor>(std::make_unique<Template>(std::move(pieces)));
}

// RobertaProcessing / BertProcessing: "cls": [token, id], "sep": [token, id].
Result<std::unique_ptr<PostProcessor>> cls_sep_from_json(const json& j, const std::string& where) {
  std::vector<std::vector<int32_t>> pieces;
  for (const char* key : {"cls", "sep"}) {
    if (!j.contains(key) || !j[key].is_array() || j[key].size() != 2 || !j[key][1].is_number_integer()) {
      return invalid_argument(where + ": '" + key + "' must be [token, id]");
    }
    pieces.push_back({j[key][1].get<int32_t>()});
    if (std::string(key) == "cls") pieces.emplace_back();
  }
  return std::unique_ptr<PostProcessor>(std::make_unique<Template>(std::move(pieces)));
}

}  // namespace

Result<std::unique_ptr<PostProcessor>> post_processor_from_json(const json& j) {
  if (j.is_null()) return std::unique_ptr<PostProcessor>();
  MIXSERVE_ASSIGN_OR_RETURN(const std::string type, json_type_of(j, "post_processor"));
  if (type == "TemplateProcessing") return template_from_json(j);
  if (type == "ByteLevel") return std::unique_ptr<PostProcessor>(std::make_unique<Identity>());
  if (type == "RobertaProcessing" || type == "BertProcessing") return cls_sep_from_json(j, "post_processor " + type);
  if (type == "Sequence") {
    MIXSERVE_ASSIGN_OR_RETURN(const json* items, json_array(j, "processors", "post_processor Sequence"));
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (const json& item : *items) {
      MIXSERVE_ASSIGN_OR_RETURN(auto step, post_processor_from_json(item));
      if (step) steps.push_back(std::move(step));
    }
    return std::unique_ptr<PostProcessor>(std::make_unique<Sequence>(std::move(steps)));
  }
  return unsupported("post_processor type '" + type +
                     "' is not supported (supported: TemplateProcessing, ByteLevel, RobertaProcessing, "
                     "BertProcessing, Sequence)");
}

}  // namespace mixserve
