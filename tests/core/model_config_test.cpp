#include "core/model_config.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "test_support.h"

namespace mixserve {
namespace {

using nlohmann::json;

// As published for Llama 3.1 8B Instruct.
json llama3_config() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256})");
}

// As published for Mistral 7B v0.3.
json mistral_config() {
  return json::parse(R"({
    "architectures": ["MistralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
    "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true,
    "vocab_size": 32768})");
}

// As published for Qwen2.5 0.5B Instruct.
json qwen2_config() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
    "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 21,
    "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
    "torch_dtype": "bfloat16", "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
}

Result<ModelConfig> parse(const json& config) { return parse_model_config(config.dump(), "/models/x/config.json"); }

ModelConfig parse_ok(const json& config) {
  Result<ModelConfig> result = parse(config);
  EXPECT_TRUE(result.ok()) << result.status().to_string();
  return result.ok() ? result.value() : ModelConfig{};
}

void expect_error(const Result<ModelConfig>& result, StatusCode code, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), code) << result.status().to_string();
  for (const std::string& part : parts) {
    EXPECT_NE(result.status().message().find(part), std::string::npos)
        << "\"" << part << "\" not in: " << result.status().message();
  }
}

// Field-by-field equality (ModelConfig's defaulted ==), printing both configs as JSON on failure.
void expect_same(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_TRUE(a == b) << model_config_to_json(a) << "\nvs\n" << model_config_to_json(b);
}

TEST(ModelConfigTest, Llama3WithLlama3RopeScaling) {
  const ModelConfig c = parse_ok(llama3_config());
  EXPECT_EQ(c.architecture, Architecture::llama);
  EXPECT_STREQ(architecture_name(c.architecture), "LlamaForCausalLM");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.intermediate_size, 14336);
  EXPECT_EQ(c.num_hidden_layers, 32);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.q_size(), 4096);
  EXPECT_EQ(c.kv_size(), 1024);
  EXPECT_EQ(c.group_size(), 4);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::llama3);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(c.bos_token_id, 128000);
}

TEST(ModelConfigTest, Mistral) {
  const ModelConfig c = parse_ok(mistral_config());
  EXPECT_EQ(c.architecture, Architecture::mistral);
  EXPECT_STREQ(architecture_name(c.architecture), "MistralForCausalLM");
  EXPECT_EQ(c.head_dim, 128);  // absent: hidden / heads
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::none);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_FALSE(c.attention_bias);

  json explicit_head_dim = mistral_config();  // Mistral Nemo style: head_dim not hidden / heads
  explicit_head_dim["hidden_size"] = 5120;
  explicit_head_dim["head_dim"] = 128;
  EXPECT_EQ(parse_ok(explicit_head_dim).head_dim, 128);
  EXPECT_EQ(parse_ok(explicit_head_dim).q_size(), 4096);

  json window = mistral_config();  // Mistral 7B v0.1: a 4096-token window under a 32768 context
  window["sliding_window"] = 4096;
  expect_error(parse(window), StatusCode::unsupported, {"/models/x/config.json", "sliding_window", "4096"});
  window["sliding_window"] = 32768;  // a window as long as the context never binds
  EXPECT_TRUE(parse(window).ok());
}

TEST(ModelConfigTest, Qwen2WithTiedEmbeddingsAndBias) {
  const ModelConfig c = parse_ok(qwen2_config());
  EXPECT_EQ(c.architecture, Architecture::qwen2);
  EXPECT_STREQ(architecture_name(c.architecture), "Qwen2ForCausalLM");
  EXPECT_EQ(c.model_type, "qwen2");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.attention_bias);  // implied by the architecture, absent from the file
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.group_size(), 7);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{151645}));

  json window = qwen2_config();
  window["sliding_window"] = 4096;  // ignored while use_sliding_window is false
  EXPECT_TRUE(parse(window).ok());
  window["use_sliding_window"] = true;
  expect_error(parse(window), StatusCode::unsupported, {"/models/x/config.json", "sliding_window"});
}

TEST(ModelConfigTest, Defaults) {
  const ModelConfig c = parse_ok(json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "vocab_size": 1000, "hidden_size": 256, "intermediate_size": 512,
    "num_hidden_layers": 2, "num_attention_heads": 8, "max_position_embeddings": 2048, "head_dim": null})"));
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::none);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_TRUE(c.eos_token_ids.empty());
  EXPECT_EQ(c.bos_token_id, -1);
  EXPECT_EQ(c.torch_dtype, "");
}

TEST(ModelConfigTest, RopeScalingVariants) {
  json linear = llama3_config();
  linear["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};  // the older "type" key
  ModelConfig c = parse_ok(linear);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::linear);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 2.0);

  json fallback = llama3_config();
  fallback["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_EQ(parse_ok(fallback).rope_scaling.type, RopeScalingType::none);

  json v5 = mistral_config();  // transformers 5.x folds rope_theta into rope_parameters
  v5.erase("rope_theta");
  v5["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 250000.0}};
  EXPECT_DOUBLE_EQ(parse_ok(v5).rope_theta, 250000.0);

  for (const char* type : {"dynamic", "yarn", "longrope"}) {
    json bad = llama3_config();
    bad["rope_scaling"] = {{"rope_type", type}, {"factor", 4.0}};
    expect_error(parse(bad), StatusCode::unsupported, {"/models/x/config.json", type});
  }
  json incomplete = llama3_config();
  incomplete["rope_scaling"].erase("low_freq_factor");
  expect_error(parse(incomplete), StatusCode::invalid_argument,
               {"/models/x/config.json", "rope_scaling.low_freq_factor"});
  json no_factor = llama3_config();
  no_factor["rope_scaling"] = {{"rope_type", "linear"}};
  expect_error(parse(no_factor), StatusCode::invalid_argument, {"rope_scaling.factor"});
  json not_object = llama3_config();
  not_object["rope_scaling"] = "llama3";
  expect_error(parse(not_object), StatusCode::invalid_argument, {"rope_scaling"});
}

TEST(ModelConfigTest, RejectsBadInput) {
  const std::string file = "/models/x/config.json";
  expect_error(parse_model_config("{\"architectures\": [", file), StatusCode::invalid_argument, {file, "JSON"});
  expect_error(parse_model_config("[1, 2]", file), StatusCode::invalid_argument, {file, "object"});

  json missing = llama3_config();
  missing.erase("hidden_size");
  expect_error(parse(missing), StatusCode::invalid_argument, {file, "\"hidden_size\"", "missing"});
  json no_arch = llama3_config();
  no_arch.erase("architectures");
  expect_error(parse(no_arch), StatusCode::invalid_argument, {file, "architectures"});

  json wrong_type = llama3_config();
  wrong_type["num_hidden_layers"] = "32";
  expect_error(parse(wrong_type), StatusCode::invalid_argument, {file, "\"num_hidden_layers\"", "integer"});
  json fractional = llama3_config();
  fractional["vocab_size"] = 1.5;
  expect_error(parse(fractional), StatusCode::invalid_argument, {file, "\"vocab_size\""});
  json bad_bool = qwen2_config();
  bad_bool["tie_word_embeddings"] = 1;
  expect_error(parse(bad_bool), StatusCode::invalid_argument, {file, "\"tie_word_embeddings\"", "boolean"});
  json bad_eos = llama3_config();
  bad_eos["eos_token_id"] = {128001, "x"};
  expect_error(parse(bad_eos), StatusCode::invalid_argument, {file, "\"eos_token_id\""});

  json gpt2 = llama3_config();
  gpt2["architectures"] = {"GPT2LMHeadModel"};
  expect_error(parse(gpt2), StatusCode::unsupported, {file, "GPT2LMHeadModel"});
  json mismatch = llama3_config();
  mismatch["model_type"] = "qwen2";
  expect_error(parse(mismatch), StatusCode::invalid_argument, {file, "model_type"});

  json heads = llama3_config();
  heads["num_key_value_heads"] = 6;  // 32 % 6 != 0
  expect_error(parse(heads), StatusCode::invalid_argument, {file, "num_key_value_heads", "32"});
  json indivisible = llama3_config();
  indivisible["num_attention_heads"] = 24;
  indivisible["num_key_value_heads"] = 8;
  indivisible["hidden_size"] = 1000;  // 1000 % 24 != 0 and no head_dim
  expect_error(parse(indivisible), StatusCode::invalid_argument, {file, "head_dim"});
  json zero = llama3_config();
  zero["num_attention_heads"] = 0;
  expect_error(parse(zero), StatusCode::invalid_argument, {file, "num_attention_heads", "positive"});
  json negative = llama3_config();
  negative["intermediate_size"] = -1;
  expect_error(parse(negative), StatusCode::invalid_argument, {file, "intermediate_size", "positive"});

  json mlp_bias = llama3_config();
  mlp_bias["mlp_bias"] = true;
  expect_error(parse(mlp_bias), StatusCode::unsupported, {file, "mlp_bias"});
  json gelu = llama3_config();
  gelu["hidden_act"] = "gelu";
  expect_error(parse(gelu), StatusCode::unsupported, {file, "hidden_act", "gelu"});
}

TEST(ModelConfigTest, JsonRoundTripKeepsEveryField) {
  for (const json& source : {llama3_config(), mistral_config(), qwen2_config()}) {
    const ModelConfig original = parse_ok(source);
    SCOPED_TRACE(original.model_type);
    const std::string text = model_config_to_json(original);
    const json written = json::parse(text);
    EXPECT_EQ(written["architectures"], json::array({architecture_name(original.architecture)}));
    EXPECT_EQ(written["model_type"], original.model_type);
    EXPECT_EQ(written["head_dim"], original.head_dim);
    EXPECT_EQ(written["hidden_act"], "silu");
    EXPECT_EQ(written["torch_dtype"], "bfloat16");
    EXPECT_EQ(written["initializer_range"], 0.02);
    EXPECT_EQ(written["use_cache"], true);
    EXPECT_EQ(written["tie_word_embeddings"], original.tie_word_embeddings);
    EXPECT_EQ(written.contains("attention_bias"), original.architecture == Architecture::llama);
    Result<ModelConfig> reread = parse_model_config(text, "written.json");
    ASSERT_TRUE(reread.ok()) << reread.status().to_string();
    expect_same(reread.value(), original);
  }
  const json llama = json::parse(model_config_to_json(parse_ok(llama3_config())));
  EXPECT_EQ(llama["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(llama["eos_token_id"], json::array({128001, 128008, 128009}));
  EXPECT_TRUE(json::parse(model_config_to_json(parse_ok(mistral_config())))["rope_scaling"].is_null());

  // A config built in code (as `mixserve synth` does) round-trips too, linear scaling and all.
  ModelConfig built;
  built.architecture = Architecture::llama;
  built.model_type = "llama";
  built.vocab_size = 320;
  built.hidden_size = 64;
  built.intermediate_size = 96;
  built.num_hidden_layers = 3;
  built.num_attention_heads = 4;
  built.num_key_value_heads = 2;
  built.head_dim = 24;
  built.max_position_embeddings = 512;
  built.rms_norm_eps = 1.25e-5;
  built.rope_theta = 12345.5;
  built.rope_scaling.type = RopeScalingType::linear;
  built.rope_scaling.factor = 3.0;
  built.attention_bias = true;
  built.torch_dtype = "bfloat16";
  built.eos_token_ids = {7};
  built.bos_token_id = 0;
  Result<ModelConfig> reread = parse_model_config(model_config_to_json(built), "built.json");
  ASSERT_TRUE(reread.ok()) << reread.status().to_string();
  expect_same(reread.value(), built);
}

TEST(ModelConfigTest, LoadMergesGenerationConfigEos) {
  test::TempDir dir;
  json config = llama3_config();
  config["eos_token_id"] = 128001;
  test::write_file(dir.file("config.json"), config.dump());
  Result<ModelConfig> only_config = load_model_config(dir.path());
  ASSERT_TRUE(only_config.ok()) << only_config.status().to_string();
  EXPECT_EQ(only_config->eos_token_ids, (std::vector<int64_t>{128001}));

  test::write_file(dir.file("generation_config.json"), R"({"bos_token_id": 128000, "eos_token_id": [128001, 128009]})");
  Result<ModelConfig> merged = load_model_config(dir.path());
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  EXPECT_EQ(merged->eos_token_ids, (std::vector<int64_t>{128001, 128009}));

  test::write_file(dir.file("generation_config.json"), R"({"eos_token_id": 5})");
  Result<ModelConfig> single = load_model_config(dir.path());
  ASSERT_TRUE(single.ok()) << single.status().to_string();
  EXPECT_EQ(single->eos_token_ids, (std::vector<int64_t>{128001, 5}));

  test::write_file(dir.file("generation_config.json"), "{not json");
  expect_error(load_model_config(dir.path()), StatusCode::invalid_argument, {dir.file("generation_config.json")});

  test::write_file(dir.file("config.json"), "{}");
  expect_error(load_model_config(dir.path()), StatusCode::invalid_argument, {dir.file("config.json")});
}

TEST(ModelConfigTest, LoadWithoutConfigIsNotFound) {
  test::TempDir dir;
  expect_error(load_model_config(dir.path()), StatusCode::not_found, {dir.file("config.json")});
}

}  // namespace
}  // namespace mixserve
