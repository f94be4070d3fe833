#pragma once
// Deterministic synthetic HF checkpoints (`mixserve synth`): the exact files a HF Llama/Qwen2 model directory
// holds (config.json, generation_config.json, model.safetensors or shards plus model.safetensors.index.json),
// with bf16 weights drawn from (seed, tensor name) so the same seed always gives byte-identical files.
// They let the engine be tested against HF transformers (tools/reference/hf_logits.py) and benchmarked at real
// shapes without downloading real weights.
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_config.h"
#include "core/status.h"

namespace mixserve::tools {

// HF's default max_shard_size ("5GB", decimal).
inline constexpr uint64_t kDefaultMaxShardBytes = 5'000'000'000;

struct SynthOptions {
  std::string out_dir;  // created when missing
  std::string preset;   // one of synth_preset_names()
  uint64_t seed = 0;
  uint64_t max_shard_bytes = 0;  // 0: kDefaultMaxShardBytes, so only llama3-8b is sharded
  // When set, tokenizer.json and tokenizer_config.json are copied from here into out_dir; the tokenizer's ids
  // (added tokens included) must fit the preset's vocab_size (tools/synth/tokenizer_files.h).
  std::string tokenizer_dir;
};

// "tiny" (Llama-3 shapes scaled down, GQA, llama3 RoPE scaling), "qwen2-tiny" (tied embeddings, q/k/v biases),
// "llama3-8b" (the real Llama-3.1-8B shapes, 16 GB).
std::vector<std::string> synth_preset_names();
// The preset's config; invalid_argument naming the preset and the valid names when unknown.
Result<ModelConfig> synth_preset_config(const std::string& preset);

// Writes the checkpoint into options.out_dir: the weights shard by shard (memory stays at a few tens of MB
// whatever the model size), then config.json and generation_config.json, so a directory with a config.json
// holds complete weights. Checkpoint files of an earlier run in that directory are replaced.
Status synth_checkpoint(const SynthOptions& options);

}  // namespace mixserve::tools
