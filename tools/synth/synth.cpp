#include "tools/synth/synth.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/thread_pool.h"
#include "tools/synth/safetensors_stream.h"
#include "tools/synth/tensor_plan.h"
#include "tools/synth/tokenizer_files.h"

namespace mixserve::tools {

namespace {

namespace fs = std::filesystem;

// Chunks generated per write: 256 x 64 Ki bf16 = 32 MiB of buffer, enough work to keep every thread busy.
constexpr int64_t kBatchChunks = 256;

Status write_text_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return io_error(path.string() + ": write failed");
  return {};
}

// Shards or a single file left by an earlier run with other sharding would be read as part of this checkpoint.
Status remove_stale_checkpoint_files(const fs::path& dir) {
  static const std::regex kCheckpointFile(
      R"((model\.safetensors|model\.safetensors\.index\.json|model-\d{5}-of-\d{5}\.safetensors)(\.partial)?)");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!std::regex_match(entry.path().filename().string(), kCheckpointFile)) continue;
    fs::remove(entry.path(), ec);
    if (ec) return io_error(entry.path().string() + ": cannot remove stale checkpoint file: " + ec.message());
  }
  if (ec) return io_error(dir.string() + ": cannot list: " + ec.message());
  return {};
}

Status write_tensor(SafetensorsStreamWriter& writer, const TensorSpec& spec, uint64_t seed,
                    std::vector<uint16_t>& buffer, ThreadPool& pool) {
  const int64_t numel = spec.numel();
  const int64_t n_chunks = (numel + kChunkElements - 1) / kChunkElements;
  for (int64_t c = 0; c < n_chunks; c += kBatchChunks) {
    const int64_t c_end = std::min(n_chunks, c + kBatchChunks);
    const int64_t n = std::min(numel, c_end * kChunkElements) - c * kChunkElements;
    std::span<uint16_t> out(buffer.data(), static_cast<size_t>(n));
    fill_chunks_bf16(seed, spec.name, spec.init, numel, c, c_end, out, pool);
    // bf16 bits in host order are the file's little-endian bytes (SafetensorsStreamWriter asserts the host).
    MIXSERVE_RETURN_IF_ERROR(writer.append({reinterpret_cast<const uint8_t*>(out.data()), out.size_bytes()}));
  }
  return {};
}

Status write_shard(const fs::path& path, const std::vector<TensorSpec>& tensors, uint64_t seed) {
  std::vector<SafetensorsStreamWriter::Entry> entries;
  for (const auto& t : tensors) entries.push_back({t.name, DType::bf16, t.shape});
  // transformers refuses safetensors files whose metadata lacks format "pt" (or another framework name).
  MIXSERVE_ASSIGN_OR_RETURN(auto writer, SafetensorsStreamWriter::create(path.string(), entries, {{"format", "pt"}}));
  std::vector<uint16_t> buffer(static_cast<size_t>(kBatchChunks * kChunkElements));
  ThreadPool& pool = ThreadPool::global();
  for (const auto& t : tensors) MIXSERVE_RETURN_IF_ERROR(write_tensor(writer, t, seed, buffer, pool));
  return writer.finish();
}

// model.safetensors.index.json as transformers' save_pretrained writes it: sorted keys, indent 2, newline.
std::string shard_index_json(const std::vector<std::vector<TensorSpec>>& shards) {
  uint64_t total_size = 0;
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    for (const auto& t : shards[i]) {
      weight_map[t.name] = shard_file_name(i, shards.size());
      total_size += t.n_bytes();
    }
  }
  nlohmann::json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
  return index.dump(2) + "\n";
}

std::string generation_config_json(const ModelConfig& config) {
  nlohmann::json generation = {{"bos_token_id", config.bos_token_id},
                               {"eos_token_id", config.eos_token_ids},
                               {"transformers_version", "4.46.0"}};
  return generation.dump(2) + "\n";
}

}  // namespace

Status synth_checkpoint(const SynthOptions& options) {
  MIXSERVE_ASSIGN_OR_RETURN(const ModelConfig config, synth_preset_config(options.preset));
  if (options.out_dir.empty()) return invalid_argument("synth: no output directory given");
  // Checked before any weight is written, so a mismatched tokenizer costs nothing.
  if (!options.tokenizer_dir.empty()) {
    MIXSERVE_RETURN_IF_ERROR(check_tokenizer_fits(options.tokenizer_dir, config.vocab_size));
  }
  const fs::path dir(options.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return io_error(dir.string() + ": cannot create directory: " + ec.message());
  MIXSERVE_RETURN_IF_ERROR(remove_stale_checkpoint_files(dir));

  const uint64_t max_shard_bytes = options.max_shard_bytes ? options.max_shard_bytes : kDefaultMaxShardBytes;
  const auto shards = plan_shards(checkpoint_tensors(config), max_shard_bytes);
  if (shards.size() == 1) {
    MIXSERVE_RETURN_IF_ERROR(write_shard(dir / "model.safetensors", shards[0], options.seed));
  } else {
    for (size_t i = 0; i < shards.size(); ++i) {
      MIXSERVE_RETURN_IF_ERROR(write_shard(dir / shard_file_name(i, shards.size()), shards[i], options.seed));
    }
    MIXSERVE_RETURN_IF_ERROR(write_text_file(dir / "model.safetensors.index.json", shard_index_json(shards)));
  }
  MIXSERVE_RETURN_IF_ERROR(write_text_file(dir / "generation_config.json", generation_config_json(config)));
  if (!options.tokenizer_dir.empty()) {
    MIXSERVE_RETURN_IF_ERROR(copy_tokenizer_files(options.tokenizer_dir, dir.string()));
  }
  return write_text_file(dir / "config.json", model_config_to_json(config));
}

}  // namespace mixserve::tools
