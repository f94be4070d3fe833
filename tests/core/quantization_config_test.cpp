// config.json's quantization_config: what loads, and the reason for what does not (core/quantization_config.h).
// Shapes of the objects as AutoAWQ, AutoGPTQ / transformers' GPTQConfig and AutoFP8 / vLLM write them.
#include "core/quantization_config.h"

#include <gtest/gtest.h>

#include <string>

#include "core/model_config.h"

namespace mixserve {
namespace {

Result<QuantizationConfig> parse(const std::string& text) { return parse_quantization_config(text, "config.json"); }

TEST(QuantizationConfig, AbsentIsNone) {
  auto q = parse("");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->method, QuantMethod::none);
}

TEST(QuantizationConfig, ReadsAwqGptqAndFp8) {
  auto awq = parse(R"({"quant_method": "awq", "bits": 4, "group_size": 128, "version": "GEMM", "zero_point": true})");
  ASSERT_TRUE(awq.ok()) << awq.status().to_string();
  EXPECT_EQ(awq->method, QuantMethod::awq);
  EXPECT_EQ(awq->group_size, 128);
  auto autoawq = parse(R"({"quant_method": "awq", "w_bit": 4, "q_group_size": 64, "version": "gemm"})");
  ASSERT_TRUE(autoawq.ok()) << autoawq.status().to_string();
  EXPECT_EQ(autoawq->group_size, 64);
  auto gptq = parse(R"({"quant_method": "gptq", "bits": 4, "group_size": 32, "desc_act": false, "sym": true})");
  ASSERT_TRUE(gptq.ok()) << gptq.status().to_string();
  EXPECT_EQ(gptq->method, QuantMethod::gptq);
  EXPECT_EQ(gptq->group_size, 32);
  auto fp8 = parse(R"({"quant_method": "fp8", "activation_scheme": "static"})");
  ASSERT_TRUE(fp8.ok()) << fp8.status().to_string();
  EXPECT_EQ(fp8->method, QuantMethod::fp8);
  EXPECT_TRUE(fp8->static_activation_scale);
}

TEST(QuantizationConfig, RefusesWhatCannotLoadWithTheReason) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": true})", "act-order"},
      {R"({"quant_method": "gptq", "bits": 8, "group_size": 128})", "8 bits"},
      {R"({"quant_method": "gptq", "bits": 4, "group_size": -1})", "group_size -1"},
      {R"({"quant_method": "gptq", "bits": 4, "group_size": 128, "checkpoint_format": "gptq_v2"})", "gptq_v2"},
      {R"({"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemv"})", "gemv"},
      {R"({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": false})", "zero points"},
      {R"({"quant_method": "fp8", "weight_block_size": [128, 128]})", "block-wise"},
      {R"({"quant_method": "bitsandbytes", "load_in_4bit": true})", "bitsandbytes"},
      {R"({"quant_method": "compressed-tensors"})", "compressed-tensors"},
  };
  for (const auto& [text, reason] : cases) {
    auto q = parse(text);
    ASSERT_FALSE(q.ok()) << text;
    EXPECT_EQ(q.status().code(), StatusCode::unsupported) << q.status().to_string();
    EXPECT_NE(q.status().message().find(reason), std::string::npos) << q.status().to_string();
  }
}

TEST(QuantizationConfig, MalformedIsInvalid) {
  for (const char* text : {R"({"bits": 4})", R"({"quant_method": "gptq", "bits": "four"})", R"([1, 2])",
                           R"({"quant_method": "fp8", "activation_scheme": "sometimes"})"}) {
    auto q = parse(text);
    ASSERT_FALSE(q.ok()) << text;
    EXPECT_EQ(q.status().code(), StatusCode::invalid_argument) << q.status().to_string();
  }
}

// Through config.json: the model config carries it, and a refused one fails the whole config with its reason.
TEST(QuantizationConfig, PartOfTheModelConfig) {
  const std::string base = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
      "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 100, "max_position_embeddings": 64)";
  auto ok = parse_model_config(base + R"(, "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 32}})",
                               "config.json");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->quantization.method, QuantMethod::awq);
  auto bad = parse_model_config(base + R"(, "quantization_config": {"quant_method": "gptq", "bits": 4, "desc_act": true}})",
                                "config.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("act-order"), std::string::npos) << bad.status().to_string();
}

}  // namespace
}  // namespace mixserve
