#include "tools/synth/synth.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/float_convert.h"
#include "core/safetensors.h"
#include "core/thread_pool.h"
#include "test_support.h"
#include "tools/synth/tensor_plan.h"
#include "tools/synth/weight_generator.h"

namespace mixserve::tools {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

// The tensors a HF checkpoint of this family holds, written out independently of tensor_plan.cpp.
ShapeMap expected_tensors(int64_t vocab, int64_t hidden, int64_t inter, int64_t layers, int64_t q, int64_t kv,
                          bool qkv_bias, bool lm_head) {
  ShapeMap m{{"model.embed_tokens.weight", {vocab, hidden}}, {"model.norm.weight", {hidden}}};
  if (lm_head) m["lm_head.weight"] = {vocab, hidden};
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    m[p + "input_layernorm.weight"] = {hidden};
    m[p + "post_attention_layernorm.weight"] = {hidden};
    m[p + "self_attn.q_proj.weight"] = {q, hidden};
    m[p + "self_attn.k_proj.weight"] = {kv, hidden};
    m[p + "self_attn.v_proj.weight"] = {kv, hidden};
    m[p + "self_attn.o_proj.weight"] = {hidden, q};
    if (qkv_bias) {
      m[p + "self_attn.q_proj.bias"] = {q};
      m[p + "self_attn.k_proj.bias"] = {kv};
      m[p + "self_attn.v_proj.bias"] = {kv};
    }
    m[p + "mlp.gate_proj.weight"] = {inter, hidden};
    m[p + "mlp.up_proj.weight"] = {inter, hidden};
    m[p + "mlp.down_proj.weight"] = {hidden, inter};
  }
  return m;
}

ShapeMap expected_tiny() { return expected_tensors(128256, 128, 384, 4, 128, 64, false, true); }
ShapeMap expected_qwen2_tiny() { return expected_tensors(151936, 128, 352, 3, 128, 64, true, false); }

void synth_or_die(const std::string& dir, const std::string& preset, uint64_t seed, uint64_t max_shard_bytes = 0) {
  const Status s = synth_checkpoint({.out_dir = dir, .preset = preset, .seed = seed, .max_shard_bytes = max_shard_bytes});
  ASSERT_TRUE(s.ok()) << s.to_string();
}

std::vector<float> tensor_values(const Checkpoint& ckpt, const std::string& name) {
  auto t = ckpt.tensor(name);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  if (!t.ok()) return {};
  std::vector<float> values(t->bytes.size() / 2);
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, t->bytes.data() + 2 * i, 2);
    values[i] = bf16_bits_to_fp32(bits);
  }
  return values;
}

struct Moments {
  double mean = 0, stddev = 0, min = 0, max = 0;
};

Moments moments(const std::vector<float>& v) {
  Moments m{.min = v.empty() ? 0 : v[0], .max = v.empty() ? 0 : v[0]};
  for (float x : v) m.mean += x, m.min = std::min<double>(m.min, x), m.max = std::max<double>(m.max, x);
  m.mean /= static_cast<double>(v.size());
  for (float x : v) m.stddev += (x - m.mean) * (x - m.mean);
  m.stddev = std::sqrt(m.stddev / static_cast<double>(v.size() - 1));
  return m;
}

std::vector<uint8_t> tensor_bytes(const Checkpoint& ckpt, const std::string& name) {
  auto t = ckpt.tensor(name);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  if (!t.ok()) return {};
  return {t->bytes.begin(), t->bytes.end()};
}

// Field-by-field equality (ModelConfig's defaulted ==), printing both configs as JSON on failure.
void expect_config_eq(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_TRUE(a == b) << model_config_to_json(a) << "\nvs\n" << model_config_to_json(b);
}

std::set<std::string> files_in(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// ---- the generator

TEST(WeightGenerator, MatchesPublishedReferenceValues) {
  // FNV-1a test vectors and the first outputs of Vigna's splitmix64.c seeded with 0.
  EXPECT_EQ(fnv1a64(""), 0xCBF29CE484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xAF63DC4C8601EC8Cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171F73967E8ull);
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(rng.next(), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(rng.next(), 0x06C45D188009454Full);
}

TEST(WeightGenerator, BytesDoNotDependOnThreadCount) {
  // 3.5 chunks, so the short last chunk and chunk boundaries are covered.
  const int64_t numel = 3 * kChunkElements + kChunkElements / 2 + 1;
  const int64_t n_chunks = 4;
  const WeightInit init{.kind = WeightInit::Kind::normal, .scale = 0.3};
  std::vector<uint16_t> serial(numel), parallel(numel), pieces(numel);
  ThreadPool one(1), three(3);
  fill_chunks_bf16(42, "w", init, numel, 0, n_chunks, serial, one);
  fill_chunks_bf16(42, "w", init, numel, 0, n_chunks, parallel, three);
  EXPECT_EQ(serial, parallel);
  // Generating a range of chunks gives the same bytes as that part of the whole tensor.
  fill_chunks_bf16(42, "w", init, numel, 0, 1, std::span(pieces).first(kChunkElements), one);
  fill_chunks_bf16(42, "w", init, numel, 1, n_chunks, std::span(pieces).subspan(kChunkElements), three);
  EXPECT_EQ(serial, pieces);
  // Chunks are different streams, not one stream repeated.
  EXPECT_FALSE(std::equal(serial.begin(), serial.begin() + 1000, serial.begin() + kChunkElements));
}

TEST(WeightGenerator, StreamsDifferBySeedNameAndChunk) {
  const uint64_t base = chunk_stream_key(1, "a.weight", 0);
  EXPECT_NE(base, chunk_stream_key(2, "a.weight", 0));
  EXPECT_NE(base, chunk_stream_key(1, "b.weight", 0));
  EXPECT_NE(base, chunk_stream_key(1, "a.weight", 1));
  EXPECT_NE(chunk_stream_key(0, "a.weight", 0), chunk_stream_key(0, "a.weight", 1));
}

TEST(WeightGenerator, PinnedValues) {
  // The goldens under tests/data were computed from synthesized checkpoints: if this test fails, the
  // generator changed and every golden made from a synthetic checkpoint must be regenerated.
  std::vector<uint16_t> normal(4), uniform(4);
  fill_chunk_bf16(0, "model.layers.0.self_attn.q_proj.weight", {WeightInit::Kind::normal, 1.0}, 0, normal);
  fill_chunk_bf16(0, "model.norm.weight", {WeightInit::Kind::one_plus_uniform, 0.2}, 0, uniform);
  EXPECT_EQ(normal, (std::vector<uint16_t>{0xBF4B, 0xBE54, 0x3D93, 0x3FF5}));
  EXPECT_EQ(uniform, (std::vector<uint16_t>{0x3F89, 0x3F88, 0x3F89, 0x3F99}));
}

// ---- presets and the tensor plan

TEST(SynthPresets, UnknownPresetNamesItAndTheValidOnes) {
  auto config = synth_preset_config("nope");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::invalid_argument);
  for (const char* word : {"'nope'", "tiny", "qwen2-tiny", "llama3-8b"}) {
    EXPECT_NE(config.status().message().find(word), std::string::npos) << config.status().message();
  }
  TempDir dir;
  const Status s = synth_checkpoint({.out_dir = dir.path(), .preset = "nope", .seed = 0});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'nope'"), std::string::npos) << s.message();
  EXPECT_TRUE(files_in(dir.path()).empty());
}

TEST(SynthPresets, TinyIsLlama3WithGqa) {
  auto c = synth_preset_config("tiny");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->architecture, Architecture::llama);
  EXPECT_EQ(c->vocab_size, 128256);
  EXPECT_EQ(c->num_attention_heads, 4);
  EXPECT_EQ(c->num_key_value_heads, 2);
  EXPECT_EQ(c->head_dim, 32);
  EXPECT_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::llama3);
  EXPECT_EQ(c->rope_scaling.factor, 8.0);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
}

TEST(SynthPresets, Llama3_8bMatchesTheRealCheckpointLayout) {
  auto c = synth_preset_config("llama3-8b");
  ASSERT_TRUE(c.ok());
  const auto tensors = checkpoint_tensors(*c);
  uint64_t total = 0;
  for (const auto& t : tensors) total += t.n_bytes();
  // meta-llama/Llama-3.1-8B: 291 tensors, model.safetensors.index.json metadata.total_size.
  EXPECT_EQ(tensors.size(), 291u);
  EXPECT_EQ(total, 16060522496ull);
  // Its four shards hold 82, 104, 100 and 5 tensors (their data sizes are the file sizes less the headers).
  const auto shards = plan_shards(tensors, kDefaultMaxShardBytes);
  ASSERT_EQ(shards.size(), 4u);
  EXPECT_EQ(shards[0].size(), 82u);
  EXPECT_EQ(shards[1].size(), 104u);
  EXPECT_EQ(shards[2].size(), 100u);
  EXPECT_EQ(shards[3].size(), 5u);
  EXPECT_EQ(shards[3].front().name, "model.layers.31.mlp.down_proj.weight");
  size_t n_tensors = 0;
  for (const auto& shard : shards) {
    uint64_t bytes = 0;
    for (const auto& t : shard) bytes += t.n_bytes();
    EXPECT_LE(bytes, kDefaultMaxShardBytes);
    n_tensors += shard.size();
  }
  EXPECT_EQ(n_tensors, tensors.size());
}

TEST(SynthPresets, OversizeTensorGetsItsOwnShard) {
  const std::vector<TensorSpec> tensors = {{"a", {10}, {}}, {"big", {100}, {}}, {"b", {10}, {}}, {"c", {10}, {}}};
  const auto shards = plan_shards(tensors, 50);  // bytes: a 20, big 200, b 20, c 20
  // big is closed into a shard of its own at once; c would push {a, b} to 60 bytes, so it starts the next.
  ASSERT_EQ(shards.size(), 3u);
  ASSERT_EQ(shards[0].size(), 1u);
  EXPECT_EQ(shards[0][0].name, "big");
  ASSERT_EQ(shards[1].size(), 2u);
  EXPECT_EQ(shards[1][0].name, "a");
  EXPECT_EQ(shards[1][1].name, "b");
  ASSERT_EQ(shards[2].size(), 1u);
  EXPECT_EQ(shards[2][0].name, "c");
}

TEST(SynthPresets, ShardFileNamesAreHfStyle) {
  EXPECT_EQ(shard_file_name(0, 4), "model-00001-of-00004.safetensors");
  EXPECT_EQ(shard_file_name(3, 4), "model-00004-of-00004.safetensors");
}

// ---- synthesized checkpoints

class SynthCheckpoint : public ::testing::TestWithParam<std::string> {};

TEST_P(SynthCheckpoint, HoldsEveryTensorAsBf16WithItsShape) {
  const std::string preset = GetParam();
  const ShapeMap expected = preset == "tiny" ? expected_tiny() : expected_qwen2_tiny();
  TempDir dir;
  synth_or_die(dir.path(), preset, 1);
  EXPECT_EQ(files_in(dir.path()), (std::set<std::string>{"config.json", "generation_config.json", "model.safetensors"}));
  auto ckpt = Checkpoint::open(dir.path());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().to_string();
  const auto names = ckpt->tensor_names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), expected.size());
  for (const auto& [name, shape] : expected) {
    auto t = ckpt->tensor(name);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ(t->info->dtype, DType::bf16) << name;
    EXPECT_EQ(t->info->shape, shape) << name;
  }
  EXPECT_EQ(ckpt->contains("lm_head.weight"), preset == "tiny");
  auto file = SafetensorsFile::open(dir.file("model.safetensors"));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->metadata().at("format"), "pt");  // transformers refuses files without it
}

TEST_P(SynthCheckpoint, ConfigParsesBackToThePreset) {
  const std::string preset = GetParam();
  TempDir dir;
  synth_or_die(dir.path(), preset, 1);
  auto loaded = load_model_config(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  auto config = synth_preset_config(preset);
  ASSERT_TRUE(config.ok());
  expect_config_eq(*loaded, *config);

  const auto generation = nlohmann::json::parse(test::read_file(dir.file("generation_config.json")));
  EXPECT_EQ(generation.at("bos_token_id").get<int64_t>(), config->bos_token_id);
  EXPECT_EQ(generation.at("eos_token_id").get<std::vector<int64_t>>(), config->eos_token_ids);
  EXPECT_EQ(generation.at("transformers_version"), "4.46.0");
}

TEST_P(SynthCheckpoint, WeightsHaveTheIntendedScale) {
  const std::string preset = GetParam();
  TempDir dir;
  synth_or_die(dir.path(), preset, 3);
  auto ckpt = Checkpoint::open(dir.path());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().to_string();
  const int64_t inter = preset == "tiny" ? 384 : 352;
  const std::map<std::string, double> expected_stddev = {
      // Tied embeddings double as the LM head, so they take its scale.
      {"model.embed_tokens.weight", preset == "tiny" ? 1.0 : 1 / std::sqrt(128.0)},
      {"model.layers.0.self_attn.q_proj.weight", 1 / std::sqrt(128.0)},
      {"model.layers.1.self_attn.k_proj.weight", 1 / std::sqrt(128.0)},
      {"model.layers.2.self_attn.o_proj.weight", 1 / std::sqrt(128.0)},
      {"model.layers.0.mlp.up_proj.weight", 1 / std::sqrt(128.0)},
      {"model.layers.1.mlp.down_proj.weight", 1 / std::sqrt(static_cast<double>(inter))},
  };
  for (const auto& [name, stddev] : expected_stddev) {
    const Moments m = moments(tensor_values(*ckpt, name));
    // >= 8192 samples: the sample stddev is within 3% and the mean within 5% of stddev with huge margin.
    EXPECT_NEAR(m.stddev, stddev, 0.03 * stddev) << name;
    EXPECT_NEAR(m.mean, 0.0, 0.05 * stddev) << name;
  }
  if (preset == "tiny") {
    const Moments lm = moments(tensor_values(*ckpt, "lm_head.weight"));
    EXPECT_NEAR(lm.stddev, 1 / std::sqrt(128.0), 0.01 / std::sqrt(128.0));
  } else {
    std::vector<float> biases;
    for (int layer = 0; layer < 3; ++layer) {
      for (const char* proj : {"q_proj", "k_proj", "v_proj"}) {
        const auto b = tensor_values(*ckpt, "model.layers." + std::to_string(layer) + ".self_attn." + proj + ".bias");
        biases.insert(biases.end(), b.begin(), b.end());
      }
    }
    ASSERT_EQ(biases.size(), 3u * (128 + 64 + 64));
    EXPECT_NEAR(moments(biases).stddev, 0.5, 0.05);
  }
  // Norm weights: 1 + U(-0.2, 0.2), so stddev 0.2 / sqrt(3), every value inside the interval.
  std::vector<float> norms = tensor_values(*ckpt, "model.norm.weight");
  for (int layer = 0; layer < 3; ++layer) {
    for (const char* norm : {"input_layernorm", "post_attention_layernorm"}) {
      const auto w = tensor_values(*ckpt, "model.layers." + std::to_string(layer) + "." + norm + ".weight");
      norms.insert(norms.end(), w.begin(), w.end());
    }
  }
  const Moments n = moments(norms);
  EXPECT_NEAR(n.mean, 1.0, 0.02);
  EXPECT_NEAR(n.stddev, 0.2 / std::sqrt(3.0), 0.015);
  EXPECT_GE(n.min, 0.8);
  EXPECT_LE(n.max, 1.2);
}

INSTANTIATE_TEST_SUITE_P(Presets, SynthCheckpoint, ::testing::Values("tiny", "qwen2-tiny"),
                         [](const auto& info) { return info.param == "tiny" ? "tiny" : "qwen2_tiny"; });

TEST(SynthDeterminism, SameSeedSameBytesOtherSeedOtherWeights) {
  TempDir a, b, c;
  synth_or_die(a.path(), "qwen2-tiny", 7);
  synth_or_die(b.path(), "qwen2-tiny", 7);
  synth_or_die(c.path(), "qwen2-tiny", 8);
  for (const char* file : {"model.safetensors", "config.json", "generation_config.json"}) {
    EXPECT_TRUE(test::read_file(a.file(file)) == test::read_file(b.file(file))) << file;
  }
  EXPECT_TRUE(test::read_file(a.file("config.json")) == test::read_file(c.file("config.json")));
  auto ca = Checkpoint::open(a.path());
  auto cc = Checkpoint::open(c.path());
  ASSERT_TRUE(ca.ok() && cc.ok());
  // Every tensor changes with the seed, and no two tensors of one checkpoint share their bytes.
  std::set<std::vector<uint8_t>> distinct;
  for (const auto& name : ca->tensor_names()) {
    const auto bytes = tensor_bytes(*ca, name);
    EXPECT_NE(bytes, tensor_bytes(*cc, name)) << name;
    distinct.insert(bytes);
  }
  EXPECT_EQ(distinct.size(), ca->tensor_names().size());
}

TEST(SynthSharding, SmallShardLimitWritesAValidIndex) {
  TempDir whole, sharded;
  synth_or_die(whole.path(), "tiny", 5);
  // A layer of tiny is ~390 KB: 500 KB shards hold about one layer; embed and lm_head (32 MB) get their own.
  const uint64_t limit = 500'000;
  synth_or_die(sharded.path(), "tiny", 5, limit);
  const auto files = files_in(sharded.path());
  EXPECT_FALSE(files.count("model.safetensors"));
  ASSERT_TRUE(files.count("model.safetensors.index.json"));

  const auto index = nlohmann::json::parse(test::read_file(sharded.file("model.safetensors.index.json")));
  const auto& weight_map = index.at("weight_map");
  const ShapeMap expected = expected_tiny();
  EXPECT_EQ(weight_map.size(), expected.size());
  std::set<std::string> shard_files;
  for (const auto& [name, file] : weight_map.items()) {
    EXPECT_TRUE(expected.count(name)) << name;
    shard_files.insert(file.get<std::string>());
  }
  ASSERT_GT(shard_files.size(), 3u);
  size_t i = 0;
  for (const auto& f : shard_files) {
    EXPECT_EQ(f, shard_file_name(i++, shard_files.size()));
    EXPECT_TRUE(files.count(f)) << f;
  }
  EXPECT_EQ(files.size(), shard_files.size() + 3);  // + index, config, generation config

  auto ckpt = Checkpoint::open(sharded.path());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().to_string();
  auto reference = Checkpoint::open(whole.path());
  ASSERT_TRUE(reference.ok()) << reference.status().to_string();
  uint64_t total_size = 0;
  std::map<std::string, uint64_t> shard_bytes;
  for (const auto& [name, shape] : expected) {
    auto t = ckpt->tensor(name);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ(fs::path(*t->file).filename().string(), weight_map.at(name).get<std::string>()) << name;
    EXPECT_EQ(tensor_bytes(*ckpt, name), tensor_bytes(*reference, name)) << name;
    total_size += t->bytes.size();
    shard_bytes[weight_map.at(name).get<std::string>()] += t->bytes.size();
  }
  EXPECT_EQ(index.at("metadata").at("total_size").get<uint64_t>(), total_size);
  for (const auto& [file, bytes] : shard_bytes) {
    auto shard = SafetensorsFile::open(sharded.file(file));
    ASSERT_TRUE(shard.ok());
    EXPECT_TRUE(bytes <= limit || shard->tensors().size() == 1) << file << " holds " << bytes << " bytes";
  }

  // Synthesizing unsharded into the same directory removes the shards, so no stale index is read.
  synth_or_die(sharded.path(), "tiny", 5);
  EXPECT_EQ(files_in(sharded.path()), (std::set<std::string>{"config.json", "generation_config.json", "model.safetensors"}));
}

TEST(SynthErrors, UnwritableOutputIsAnIoError) {
  TempDir dir;
  test::write_file(dir.file("plain-file"), "x");
  const Status s = synth_checkpoint({.out_dir = dir.file("plain-file") + "/sub", .preset = "tiny", .seed = 0});
  EXPECT_EQ(s.code(), StatusCode::io_error) << s.to_string();
  EXPECT_NE(s.message().find("plain-file"), std::string::npos) << s.message();
}

// ---- the `mixserve synth` command

class SynthCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MIXSERVE_BINARY)) GTEST_SKIP() << MIXSERVE_BINARY << " not built";
  }
  static int run(const std::string& args, std::string* output) {
    return test::run_command(std::string(MIXSERVE_BINARY) + " synth " + args, output);
  }
};

TEST_F(SynthCommand, UnknownPresetIsAUsageErrorNamingTheValidOnes) {
  TempDir dir;
  std::string output;
  EXPECT_EQ(run("--out " + dir.path() + " --preset nope", &output), 2);
  EXPECT_NE(output.find("unknown preset 'nope'"), std::string::npos) << output;
  EXPECT_NE(output.find("qwen2-tiny"), std::string::npos) << output;
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;  // one line
  EXPECT_TRUE(files_in(dir.path()).empty());
}

TEST_F(SynthCommand, BadArgumentsAreUsageErrors) {
  TempDir dir;
  std::string output;
  EXPECT_EQ(run("--preset tiny", &output), 2);
  EXPECT_NE(output.find("--out"), std::string::npos) << output;
  EXPECT_EQ(run("--out " + dir.path() + " --preset tiny --seed -1", &output), 2);
  EXPECT_NE(output.find("--seed"), std::string::npos) << output;
  EXPECT_EQ(run("--out " + dir.path() + " --preset tiny --bogus", &output), 2);
  EXPECT_NE(output.find("bogus"), std::string::npos) << output;
  EXPECT_EQ(run("--help", &output), 0);
  EXPECT_NE(output.find("--max-shard-bytes"), std::string::npos) << output;
  EXPECT_TRUE(files_in(dir.path()).empty());
}

TEST_F(SynthCommand, WritesTheSameBytesAsTheLibrary) {
  TempDir cli, lib;
  std::string output;
  ASSERT_EQ(run("--out " + cli.path() + " --preset qwen2-tiny --seed 18446744073709551615", &output), 0) << output;
  synth_or_die(lib.path(), "qwen2-tiny", 18446744073709551615ull);
  EXPECT_TRUE(test::read_file(cli.file("model.safetensors")) == test::read_file(lib.file("model.safetensors")));
}

}  // namespace
}  // namespace mixserve::tools
