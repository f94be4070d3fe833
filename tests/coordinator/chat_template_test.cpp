// Chat templates of real models rendered by ChatTemplate: hand-derived expectations for Llama 3, ChatML (Qwen2)
// and friends, and the full comparison against HF transformers' renders in tests/data/chat_templates/golden.json
// (produced by tools/reference/hf_chat_template.py on the GPU machine). The interpreter's constructs are
// tested one by one in chat_template_jinja_test.cpp.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "coordinator/chat/chat_template.h"

namespace mixserve {
namespace {

using nlohmann::ordered_json;

const std::string kDir = std::string(MIXSERVE_TEST_DATA) + "/chat_templates";

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ordered_json read_json(const std::string& path) { return ordered_json::parse(read_text(path)); }

std::optional<ChatTemplate> load(const std::string& name) {
  auto t = ChatTemplate::parse(read_text(kDir + "/" + name + ".jinja"));
  EXPECT_TRUE(t.ok()) << name << ": " << t.status().to_string();
  if (!t.ok()) return std::nullopt;
  return std::move(t).value();
}

// The messages of the conversation named `name` in conversations.json.
ordered_json conversation(const std::string& name) {
  const ordered_json spec = read_json(kDir + "/conversations.json");
  for (const auto& c : spec["conversations"])
    if (c["name"] == name) return c["messages"];
  ADD_FAILURE() << "no conversation " << name;
  return ordered_json::array();
}

// The special tokens conversations.json gives `template_name` (its tokenizer's special_tokens_map).
ordered_json special_tokens(const std::string& template_name) {
  return read_json(kDir + "/conversations.json")["special_tokens"][template_name];
}

std::string render(const std::string& template_name, const std::string& conversation_name, bool add_generation_prompt) {
  auto tmpl = load(template_name);
  if (!tmpl) return "";
  auto out = tmpl->render(conversation(conversation_name), add_generation_prompt, special_tokens(template_name));
  EXPECT_TRUE(out.ok()) << template_name << " / " << conversation_name << ": " << out.status().to_string();
  return out.ok() ? *out : "";
}

std::vector<std::string> stored_template_names() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(kDir))
    if (entry.path().extension() == ".jinja") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

// --- Hand-derived expectations (read off the templates, independent of any golden) ---

TEST(ChatTemplate, Llama3AlwaysAppendsTheAssistantHeaderAndTrimsContent) {
  // llama3.jinja puts bos_token before the first message, trims each content, and appends the assistant header
  // whether or not add_generation_prompt is set.
  const std::string expected =
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n";
  EXPECT_EQ(render("llama3", "system_user", true), expected);
  EXPECT_EQ(render("llama3", "system_user", false), expected);
}

TEST(ChatTemplate, Llama3InstructTrimsUnicodeWhitespaceAndHonoursGenerationPrompt) {
  // `| trim` is Python's str.strip(): it also removes U+3000 and U+00A0.
  const std::string body =
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nSystem prompt with surrounding whitespace"
      "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nLeading and trailing spaces<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\nAnswer after blank lines.<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nIdeographic and no-break spaces at both ends<|eot_id|>";
  EXPECT_EQ(render("llama3_instruct", "surrounding_whitespace", false), body);
  EXPECT_EQ(render("llama3_instruct", "surrounding_whitespace", true),
            body + "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama31AddsItsDatedSystemHeader) {
  EXPECT_EQ(render("llama3_1_instruct", "system_user", true),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
            "You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
            "What is the capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, ChatMLQwen2InsertsTheDefaultSystemPromptAndKeepsContentVerbatim) {
  const std::string body =
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
      "<|im_start|>user\nHi!<|im_end|>\n"
      "<|im_start|>assistant\nHello! How can I help you today?<|im_end|>\n"
      "<|im_start|>user\nTell me a joke.<|im_end|>\n";
  EXPECT_EQ(render("qwen2_instruct", "multi_turn", false), body);
  EXPECT_EQ(render("qwen2_instruct", "multi_turn", true), body + "<|im_start|>assistant\n");
  // ChatML does not trim: whitespace around contents survives byte for byte.
  EXPECT_EQ(render("qwen2_instruct", "surrounding_whitespace", false),
            "<|im_start|>system\n  \n\tSystem prompt with surrounding whitespace\n\n  <|im_end|>\n"
            "<|im_start|>user\n   Leading and trailing spaces   <|im_end|>\n"
            "<|im_start|>assistant\n\n\nAnswer after blank lines.\n\n<|im_end|>\n"
            "<|im_start|>user\n\u3000Ideographic and no-break spaces at both ends\u00a0\u3000<|im_end|>\n");
}

TEST(ChatTemplate, Qwen25ToollessPathUsesItsOwnDefaultSystemPrompt) {
  EXPECT_EQ(render("qwen2_5_instruct", "single_user", true),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render("qwen2_5_instruct", "system_user", false),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n");
}

TEST(ChatTemplate, Llama2AndMistralRejectRolesThatDoNotAlternate) {
  for (const char* name : {"llama2_chat", "mistral_v0_1_instruct"}) {
    auto tmpl = load(name);
    ASSERT_TRUE(tmpl);
    auto out = tmpl->render(conversation("roles_not_alternating"), true, special_tokens(name));
    ASSERT_FALSE(out.ok()) << name;
    EXPECT_EQ(out.status().code(), StatusCode::invalid_argument);
    EXPECT_EQ(out.status().message(), "Conversation roles must alternate user/assistant/user/assistant/...");
  }
  EXPECT_EQ(render("llama2_chat", "system_user", true),
            "<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nWhat is the capital of France? [/INST]");
}

TEST(ChatTemplate, ExtraContextMustNotReplaceMessages) {
  auto tmpl = load("qwen2_instruct");
  ASSERT_TRUE(tmpl);
  auto out = tmpl->render(conversation("single_user"), true, ordered_json{{"messages", 1}});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("'messages'"), std::string::npos) << out.status().message();
  auto not_a_list = tmpl->render(ordered_json::object(), true, ordered_json::object());
  EXPECT_FALSE(not_a_list.ok());
}

TEST(ChatTemplate, EveryStoredTemplateParsesAndHasSpecialTokens) {
  const std::vector<std::string> names = stored_template_names();
  ASSERT_GE(names.size(), 7u);
  const ordered_json tokens = read_json(kDir + "/conversations.json")["special_tokens"];
  for (const std::string& name : names) {
    EXPECT_TRUE(ChatTemplate::parse(read_text(kDir + "/" + name + ".jinja")).ok()) << name;
    EXPECT_TRUE(tokens.contains(name)) << name << " has no special_tokens entry in conversations.json";
  }
}

// --- Goldens from HF transformers ---

TEST(ChatTemplate, MatchesHfTransformersGoldens) {
  const std::string golden_path = kDir + "/golden.json";
  ASSERT_TRUE(std::filesystem::exists(golden_path))
      << golden_path << " is missing. Produce it on the GPU machine with\n"
      << "  python3 tools/reference/hf_chat_template.py --renderer transformers --out " << golden_path
      << "\n(see docs/chat_templates.md) and commit it.";
  const ordered_json golden = read_json(golden_path);
  const ordered_json spec = read_json(kDir + "/conversations.json");
  const ordered_json& conversations = spec["conversations"];
  ASSERT_TRUE(golden.contains("_meta"));
  EXPECT_NE(golden["_meta"].value("renderer", ""), "jinja2 replica of HF's environment")
      << "golden.json must come from transformers itself (--renderer transformers)";
  size_t compared = 0;
  for (const std::string& name : stored_template_names()) {
    SCOPED_TRACE("template " + name);
    ASSERT_TRUE(golden.contains(name)) << "golden.json has no renders of " << name << ": regenerate it";
    const std::optional<ChatTemplate> tmpl = load(name);
    ASSERT_TRUE(tmpl);
    for (size_t i = 0; i < conversations.size(); ++i) {
      const std::string index = std::to_string(i);
      ASSERT_TRUE(golden[name].contains(index)) << "golden.json lacks conversation " << i << ": regenerate it";
      for (const bool gen : {true, false}) {
        SCOPED_TRACE("conversation " + index + " (" + conversations[i]["name"].get<std::string>() + "), " +
                     (gen ? "add_generation_prompt" : "no generation prompt"));
        const ordered_json& want = golden[name][index][gen ? "gen" : "nogen"];
        auto got = tmpl->render(conversations[i]["messages"], gen, spec["special_tokens"][name]);
        ++compared;
        if (want.is_string()) {
          if (got.ok()) EXPECT_EQ(*got, want.get<std::string>());
          else ADD_FAILURE() << "HF rendered this, we failed: " << got.status().to_string();
          continue;
        }
        if (got.ok()) {
          ADD_FAILURE() << "HF failed with " << want.dump() << " but we rendered:\n" << *got;
          continue;
        }
        EXPECT_EQ(got.status().code(), StatusCode::invalid_argument) << got.status().to_string();
        // The template's own raise_exception message must come through verbatim; jinja2's wording of other
        // errors (undefined attributes, type errors) is not reproduced exactly.
        if (want["error_type"] == "TemplateError") {
          EXPECT_EQ(got.status().message(), want["error"].get<std::string>());
        }
      }
    }
  }
  EXPECT_EQ(compared, stored_template_names().size() * conversations.size() * 2);
}

TEST(ChatTemplate, GoldensWereMadeFromTheStoredTemplates) {
  const std::string golden_path = kDir + "/golden.json";
  ASSERT_TRUE(std::filesystem::exists(golden_path)) << golden_path << " is missing (see MatchesHfTransformersGoldens)";
  const ordered_json hashes = read_json(golden_path)["_meta"]["templates_sha256"];
  for (const std::string& name : stored_template_names()) {
    ASSERT_TRUE(hashes.contains(name)) << name;
    // The script records each template's sha256; coreutils' sha256sum recomputes it (core has no hash).
    const std::string cmd = "sha256sum '" + kDir + "/" + name + ".jinja'";
    FILE* pipe = popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char buf[128] = {};
    ASSERT_NE(fgets(buf, sizeof buf, pipe), nullptr);
    pclose(pipe);
    EXPECT_EQ(std::string(buf).substr(0, 64), hashes[name].get<std::string>())
        << name << ".jinja changed since golden.json was made: regenerate it";
  }
}

}  // namespace
}  // namespace mixserve
