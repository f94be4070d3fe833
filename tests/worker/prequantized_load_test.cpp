// A checkpoint written by `mixserve quantize` loads as it is (worker/quantized_checkpoint.h): its logits equal
// those of the original checkpoint quantized at load with the same format (the same RTN on the same floats, so
// bit for bit), with and without biases, and TP=2 shards cut from the quantized weights give TP=1's logits;
// AutoAWQ and AutoGPTQ int4 checkpoints load the same way; asking for another format, a shard that would split
// an int4 group, and inconsistent files are clear errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/float_convert.h"
#include "core/safetensors.h"
#include "engine_runner.h"
#include "synth_model.h"
#include "test_support.h"
#include "worker/quantized_checkpoint.h"
#include "worker/model_weights.h"

namespace mixserve {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kSeed = 7;

// `mixserve quantize` of a synthetic preset into a temporary directory (made once per format).
std::string quantized_dir(const std::string& preset, const std::string& format, int group) {
  const std::string out = testing::TempDir() + "/prequant-" + preset + "-" + format + "-g" + std::to_string(group) +
                          "-" + std::to_string(getpid());
  if (fs::exists(out + "/model.safetensors")) return out;
  const std::string cmd = std::string(MIXSERVE_BINARY) + " quantize --model " + test::synth_model_dir(preset, kSeed) +
                          " --weight-format " + format + " --group-size " + std::to_string(group) + " --out " + out +
                          " > /dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return out;
}

EngineOptions options(std::optional<WeightFormat> format, int group) {
  EngineOptions o;
  o.weights.linear_format = format;
  o.weights.group_size = group;
  o.k_format = KvFormat::f32;  // fp16 K/V would round TP's differently ordered sums differently
  o.v_format = KvFormat::f32;
  o.kv_tokens = 1024;
  o.block_size = 16;
  return o;
}

// TP=1: equal to quantizing the original at load, bit for bit. TP=2: equal to TP=1 of the same directory up to
// the all-reduce's summation order (at-load quantization cannot be the reference there: int8 and fp8 would take
// their per-channel scales over a shard's columns instead of the whole row).
TEST(PrequantizedLoad, LogitsEqualQuantizingAtLoadAndTensorParallelKeepsThem) {
  struct Case {
    const char* preset;
    const char* format;
    WeightFormat wf;
    int group;
    // qwen2-tiny's 352 intermediate channels split into 176, not whole int4 groups of 32. fp8 (W8A8): each rank
    // takes the per-token activation scale over its own input shard in the row-parallel layers (as vLLM's
    // W8A8 does), so TP=2 rounds x differently from TP=1 by design and is not compared.
    bool tp2;
  };
  for (const Case& c : {Case{"tiny", "int4", WeightFormat::int4, 32, true},
                        Case{"tiny", "int8", WeightFormat::int8, 128, true},
                        Case{"qwen2-tiny", "int8", WeightFormat::int8, 128, true},
                        Case{"tiny", "fp8", WeightFormat::fp8_e4m3, 128, false},
                        Case{"qwen2-tiny", "fp8", WeightFormat::fp8_e4m3, 128, false},
                        Case{"qwen2-tiny", "int4", WeightFormat::int4, 32, false}}) {
    const std::string what = std::string(c.preset) + " " + c.format;
    const std::string quantized = quantized_dir(c.preset, c.format, c.group);
    auto at_load = test::load_engine(test::synth_model_dir(c.preset, kSeed), options(c.wf, c.group));
    auto as_is = test::load_engine(quantized, options(std::nullopt, c.group));
    ASSERT_TRUE(at_load && as_is) << what;
    const auto tokens = test::some_tokens(16, at_load->config().vocab_size, 8);
    const auto tp1 = test::logits_for_sequence(*as_is, tokens, 12, 6);
    EXPECT_EQ(tp1, test::logits_for_sequence(*at_load, tokens, 12, 6)) << what;
    if (c.tp2) {
      const auto tp2 = test::tensor_parallel_logits(quantized, options(std::nullopt, c.group), 2, tokens);
      EXPECT_LT(test::relative_frobenius_error(tp2, tp1), 1e-5) << what << " tp=2";
    }
  }
}

// The synthetic checkpoint with every `*_proj.weight` RTN-quantized to int4 (group g) and written in AWQ or
// GPTQ layout, following the formats' published definitions (kernels/formats/awq_gptq.h) independently of
// the loader: AWQ qweight I32 [k][n/8] with nibble i of word c = q[8c + {0,2,4,6,1,3,5,7}[i]][k], qzeros the
// same over groups; GPTQ qweight I32 [k/8][n] with nibble i of word r = q[n][8r + i], qzeros storing z - 1;
// scales F16 [k/g][n] for both.
std::string int4_checkpoint(const std::string& preset, int group, bool awq) {
  const std::string out = testing::TempDir() + "/prequant-" + (awq ? "awq-" : "gptq-") + preset + "-g" +
                          std::to_string(group) + "-" + std::to_string(getpid());
  if (fs::exists(out + "/model.safetensors")) return out;
  const std::string src = test::synth_model_dir(preset, kSeed);
  auto ckpt = Checkpoint::open(src);
  EXPECT_TRUE(ckpt.ok());
  SafetensorsWriter writer;
  constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  for (const std::string& name : ckpt->tensor_names()) {
    auto t = ckpt->tensor(name);
    if (!name.ends_with("_proj.weight")) {
      writer.add(name, t->info->dtype, t->info->shape, std::vector<uint8_t>(t->bytes.begin(), t->bytes.end()));
      continue;
    }
    const int64_t n = t->info->shape[0], k = t->info->shape[1], groups = k / group;
    auto values = read_tensor_f32(*ckpt, name, {n, k});
    EXPECT_TRUE(values.ok());
    const QuantizedWeight w = quantize_int4(values->data(), n, k, group);
    auto q = [&](int64_t r, int64_t c) { return (w.data[r * (k / 2) + c / 2] >> ((c & 1) * 4)) & 0xF; };
    auto z = [&](int64_t r, int64_t g) { return static_cast<uint32_t>(w.zeros[r * groups + g]); };
    std::vector<uint32_t> qweight(static_cast<size_t>(n * k / 8), 0), qzeros(static_cast<size_t>(groups * n / 8), 0);
    std::vector<uint16_t> scales(static_cast<size_t>(groups * n));
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < k; ++c) {
        if (awq) {
          for (int i = 0; i < 8; ++i)
            if (r % 8 == kAwqOrder[i]) qweight[c * (n / 8) + r / 8] |= q(r, c) << (4 * i);
        } else {
          qweight[(c / 8) * n + r] |= q(r, c) << (4 * (c % 8));
        }
      }
      for (int64_t g = 0; g < groups; ++g) {
        scales[g * n + r] = fp32_to_fp16_bits(w.scales[r * groups + g]);
        if (awq) {
          for (int i = 0; i < 8; ++i)
            if (r % 8 == kAwqOrder[i]) qzeros[g * (n / 8) + r / 8] |= z(r, g) << (4 * i);
        } else {
          qzeros[g * (n / 8) + r / 8] |= ((z(r, g) - 1) & 0xF) << (4 * (r % 8));
        }
      }
    }
    const std::string base = name.substr(0, name.size() - 7);  // without ".weight"
    auto bytes = [](const auto& v) {
      std::vector<uint8_t> b(v.size() * sizeof(v[0]));
      std::memcpy(b.data(), v.data(), b.size());
      return b;
    };
    writer.add(base + ".qweight", DType::i32, awq ? std::vector<int64_t>{k, n / 8} : std::vector<int64_t>{k / 8, n},
               bytes(qweight));
    writer.add(base + ".qzeros", DType::i32, {groups, n / 8}, bytes(qzeros));
    writer.add(base + ".scales", DType::f16, {groups, n}, bytes(scales));
  }
  fs::create_directories(out);
  EXPECT_TRUE(writer.write(out + "/model.safetensors").ok());
  fs::copy_file(src + "/config.json", out + "/config.json", fs::copy_options::overwrite_existing);
  return out;
}

// AutoAWQ / AutoGPTQ checkpoints of the same RTN weights give the same logits as quantizing at load: the loader
// reads their q, z and s exactly (TP=1 and, with groups that divide the shards, TP=2).
TEST(PrequantizedLoad, AwqAndGptqCheckpointsGiveTheLogitsOfTheirWeights) {
  for (const bool awq : {true, false}) {
    const int group = awq ? 128 : 64;
    const std::string what = awq ? "AWQ g128" : "GPTQ g64";
    const std::string dir = int4_checkpoint("tiny", group, awq);
    auto at_load = test::load_engine(test::synth_model_dir("tiny", kSeed), options(WeightFormat::int4, group));
    auto as_is = test::load_engine(dir, options(std::nullopt, group));
    ASSERT_TRUE(at_load && as_is) << what;
    const auto tokens = test::some_tokens(16, at_load->config().vocab_size, 9);
    const auto tp1 = test::logits_for_sequence(*as_is, tokens, 12, 6);
    EXPECT_EQ(tp1, test::logits_for_sequence(*at_load, tokens, 12, 6)) << what;
    if (!awq) {  // g64 divides the TP=2 shards (64 attention and 192 MLP input channels)
      const auto tp2 = test::tensor_parallel_logits(dir, options(std::nullopt, group), 2, tokens);
      EXPECT_LT(test::relative_frobenius_error(tp2, tp1), 1e-5) << what << " tp=2";
    }
  }
}

Status load_status(const std::string& dir, const EngineOptions& o) {
  LocalCommunicator comm;
  ThreadPool pool(1);
  auto engine = Engine::load(dir, o, comm, pool);
  return engine.ok() ? Status::ok_status() : engine.status();
}

TEST(PrequantizedLoad, ClearErrorsForWhatCannotLoadAsIs) {
  const std::string int4 = quantized_dir("tiny", "int4", 128);
  Status s = load_status(int4, options(WeightFormat::int8, 128));
  EXPECT_NE(s.message().find("int4-quantized weights"), std::string::npos) << s.to_string();

  // TP=2 cuts down_proj's 384 input channels into 192, which splits a group of 128.
  EngineOptions tp = options(std::nullopt, 128);
  tp.tp_rank = 1;
  tp.tp_size = 2;
  auto group = InProcessGroup::create(2);
  ThreadPool pool(1);
  auto engine = Engine::load(int4, tp, *group->communicator(1), pool);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("whole groups of 128"), std::string::npos) << engine.status().to_string();

  // The same tensors with a layout this build does not know, and with a wrong shape entry.
  auto ckpt = Checkpoint::open(int4);
  ASSERT_TRUE(ckpt.ok());
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"mixserve_layout", "mma_v9"}, {"model.layers.0.self_attn.q_proj.shape", "64,128"}}) {
    const std::string bad = testing::TempDir() + "/prequant-bad-" + std::to_string(getpid()) + "-" + key;
    fs::create_directories(bad);
    fs::copy_file(int4 + "/config.json", bad + "/config.json", fs::copy_options::overwrite_existing);
    SafetensorsWriter writer;
    auto ref = ckpt->tensor("model.layers.0.self_attn.q_proj.qweight");
    ASSERT_TRUE(ref.ok());
    for (const auto& [k, v] : *ref->metadata) writer.set_metadata(k, v);
    writer.set_metadata(key, value);
    for (const std::string& name : ckpt->tensor_names()) {
      auto t = ckpt->tensor(name);
      writer.add(name, t->info->dtype, t->info->shape, std::vector<uint8_t>(t->bytes.begin(), t->bytes.end()));
    }
    ASSERT_TRUE(writer.write(bad + "/model.safetensors").ok());
    const Status st = load_status(bad, options(std::nullopt, 128));
    EXPECT_FALSE(st.ok()) << key;
    EXPECT_NE(st.message().find(value), std::string::npos) << st.to_string();
  }
}

// DIR_OUT/config.json: DIR_IN's with a "quantization_config" entry (a JSON object text) added.
void write_config_with_quantization(const std::string& dir_in, const std::string& dir_out,
                                    const std::string& quantization_config) {
  std::ifstream in(dir_in + "/config.json");
  const std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir_out + "/config.json")
      << config.substr(0, config.rfind('}')) + ", \"quantization_config\": " + quantization_config + "}";
}

// The synthetic checkpoint with every `*_proj.weight` RTN-quantized to fp8 and written as AutoFP8 / vLLM "fp8"
// checkpoints are: BASE.weight F8_E4M3 [n][k], BASE.weight_scale F32 [n, 1], and config.json's
// quantization_config = `quantization_config` (a JSON object text).
std::string hf_fp8_checkpoint(const std::string& preset, const std::string& tag, const std::string& quantization_config) {
  const std::string out = testing::TempDir() + "/prequant-hf-fp8-" + preset + "-" + tag + "-" + std::to_string(getpid());
  if (fs::exists(out + "/model.safetensors")) return out;
  const std::string src = test::synth_model_dir(preset, kSeed);
  auto ckpt = Checkpoint::open(src);
  EXPECT_TRUE(ckpt.ok());
  SafetensorsWriter writer;
  for (const std::string& name : ckpt->tensor_names()) {
    auto t = ckpt->tensor(name);
    if (!name.ends_with("_proj.weight")) {
      writer.add(name, t->info->dtype, t->info->shape, std::vector<uint8_t>(t->bytes.begin(), t->bytes.end()));
      continue;
    }
    const int64_t n = t->info->shape[0], k = t->info->shape[1];
    auto values = read_tensor_f32(*ckpt, name, {n, k});
    EXPECT_TRUE(values.ok());
    QuantizedWeight w = quantize_fp8(values->data(), n, k);
    std::vector<uint8_t> scale_bytes(w.scales.size() * sizeof(float));
    std::memcpy(scale_bytes.data(), w.scales.data(), scale_bytes.size());
    writer.add(name, DType::fp8_e4m3, {n, k}, std::move(w.data));
    writer.add(name + "_scale", DType::f32, {n, 1}, std::move(scale_bytes));
  }
  fs::create_directories(out);
  EXPECT_TRUE(writer.write(out + "/model.safetensors").ok());
  write_config_with_quantization(src, out, quantization_config);
  return out;
}

// An AutoFP8-style checkpoint (per-channel weight_scale) gives the logits of quantizing the same weights to fp8
// at load, bit for bit; a config that declares another method, or a per-tensor scale, is read as declared.
TEST(PrequantizedLoad, HfFp8CheckpointsLoadAsW8A8) {
  const std::string dir = hf_fp8_checkpoint("tiny", "dynamic", R"({"quant_method": "fp8", "activation_scheme": "dynamic"})");
  auto at_load = test::load_engine(test::synth_model_dir("tiny", kSeed), options(WeightFormat::fp8_e4m3, 128));
  auto as_is = test::load_engine(dir, options(std::nullopt, 128));
  ASSERT_TRUE(at_load && as_is);
  const auto tokens = test::some_tokens(16, at_load->config().vocab_size, 8);
  EXPECT_EQ(test::logits_for_sequence(*as_is, tokens, 12, 6), test::logits_for_sequence(*at_load, tokens, 12, 6));

  const std::string wrong = hf_fp8_checkpoint("tiny", "says-gptq", R"({"quant_method": "gptq", "bits": 4, "group_size": 32})");
  const Status st = load_status(wrong, options(std::nullopt, 128));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("mismatched config and checkpoint"), std::string::npos) << st.to_string();
  // A config that declares quantization over float weights is refused the same way.
  const std::string float_dir = testing::TempDir() + "/prequant-float-says-awq-" + std::to_string(getpid());
  fs::create_directories(float_dir);
  const std::string src = test::synth_model_dir("tiny", kSeed);
  fs::copy_file(src + "/model.safetensors", float_dir + "/model.safetensors", fs::copy_options::overwrite_existing);
  write_config_with_quantization(src, float_dir, R"({"quant_method": "awq", "bits": 4, "group_size": 128})");
  const Status float_st = load_status(float_dir, options(std::nullopt, 128));
  ASSERT_FALSE(float_st.ok());
  EXPECT_NE(float_st.message().find("holds float weights"), std::string::npos) << float_st.to_string();

  // Per-tensor scale ([] as AutoFP8 writes it): every row gets it; block-wise scales are refused.
  const std::string small = testing::TempDir() + "/prequant-fp8-scalar-" + std::to_string(getpid());
  fs::create_directories(small);
  for (const bool block : {false, true}) {
    SafetensorsWriter writer;
    std::vector<uint8_t> codes(2 * 16);
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>(0x30 + i);
    const float half = 0.5f;
    std::vector<uint8_t> scale(4);
    std::memcpy(scale.data(), &half, 4);
    writer.add("x.weight", DType::fp8_e4m3, {2, 16}, codes);
    writer.add("x.weight_scale", DType::f32, {}, scale);
    if (block) writer.add("x.weight_scale_inv", DType::f32, {1, 1}, scale);
    ASSERT_TRUE(writer.write(small + "/model.safetensors").ok());
    auto ckpt = Checkpoint::open(small);
    ASSERT_TRUE(ckpt.ok()) << ckpt.status().to_string();
    ASSERT_TRUE(has_quantized_weight(*ckpt, "x"));
    auto w = read_quantized_weight(*ckpt, "x", 2, 16);
    if (block) {
      ASSERT_FALSE(w.ok());
      EXPECT_NE(w.status().message().find("block-wise"), std::string::npos) << w.status().to_string();
      continue;
    }
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    EXPECT_EQ(w->format, WeightFormat::fp8_e4m3);
    EXPECT_EQ(w->scales, std::vector<float>({0.5f, 0.5f}));
    EXPECT_EQ(w->data, codes);
  }
}

// An fp8 checkpoint with a NaN code or a negative scale is refused with the tensor's name, not loaded.
TEST(PrequantizedLoad, CorruptFp8WeightsAreRefused) {
  const std::string fp8 = quantized_dir("tiny", "fp8", 128);
  ASSERT_TRUE(load_status(fp8, options(std::nullopt, 128)).ok());
  auto ckpt = Checkpoint::open(fp8);
  ASSERT_TRUE(ckpt.ok());
  const std::string target = "model.layers.1.mlp.down_proj";
  for (const bool nan_code : {true, false}) {
    const std::string bad = testing::TempDir() + "/prequant-bad-fp8-" + std::to_string(getpid()) + (nan_code ? "-nan" : "-scale");
    fs::create_directories(bad);
    fs::copy_file(fp8 + "/config.json", bad + "/config.json", fs::copy_options::overwrite_existing);
    SafetensorsWriter writer;
    for (const std::string& name : ckpt->tensor_names()) {
      auto t = ckpt->tensor(name);
      ASSERT_TRUE(t.ok());
      for (const auto& [k, v] : *t->metadata) writer.set_metadata(k, v);
      std::vector<uint8_t> bytes(t->bytes.begin(), t->bytes.end());
      if (nan_code && name == target + ".qweight") bytes[5] = 0xFF;
      if (!nan_code && name == target + ".scales") {
        const float negative = -1.0f;
        std::memcpy(bytes.data() + 4, &negative, 4);
      }
      writer.add(name, t->info->dtype, t->info->shape, std::move(bytes));
    }
    ASSERT_TRUE(writer.write(bad + "/model.safetensors").ok());
    const Status st = load_status(bad, options(std::nullopt, 128));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find(target), std::string::npos) << st.to_string();
    EXPECT_NE(st.message().find("corrupt"), std::string::npos) << st.to_string();
  }
}

}  // namespace
}  // namespace mixserve
