// `mixserve synth`: writes a deterministic synthetic HF checkpoint (tools/synth/synth.h).
#include <boost/program_options.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "tools/cli/commands.h"
#include "tools/synth/synth.h"

namespace mixserve::cli {

namespace {

namespace po = boost::program_options;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Strict: digits only. Boost's lexical_cast would turn "-1" into 2^64 - 1.
std::optional<uint64_t> parse_u64(const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::string preset_list() {
  std::string list;
  for (const auto& name : tools::synth_preset_names()) list += (list.empty() ? "" : "|") + name;
  return list;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "mixserve synth: %s (see 'mixserve synth --help')\n", message.c_str());
  return kExitUsage;
}

}  // namespace

int run_synth(int argc, char** argv) {
  std::string out_dir, preset, tokenizer_dir, seed_text = "0", max_shard_text = "0";
  po::options_description options("options");
  options.add_options()
      ("help,h", "print this help")
      ("out", po::value(&out_dir)->required()->value_name("DIR"), "output directory (created when missing)")
      ("preset", po::value(&preset)->required()->value_name(preset_list()), "model shapes to synthesize")
      ("seed", po::value(&seed_text)->value_name("S"), "64-bit seed of the weights (default 0)")
      ("max-shard-bytes", po::value(&max_shard_text)->value_name("N"),
       "split the weights into shards of at most N bytes (default 0: 5000000000, as HF)")
      ("tokenizer", po::value(&tokenizer_dir)->value_name("DIR"),
       "copy DIR's tokenizer.json and tokenizer_config.json beside the weights (its ids must fit the preset's "
       "vocab_size; `tiny` fits Llama 3's: deploy/fetch-tokenizers.sh puts one in third_party/tokenizers/llama3)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: mixserve synth --out DIR --preset " << preset_list()
                << " [--seed S] [--max-shard-bytes N] [--tokenizer DIR]\n\n"
                   "Writes a HF checkpoint (config.json, generation_config.json, bf16 safetensors) whose weights\n"
                   "depend only on the preset and the seed: the same arguments give byte-identical files.\n\n"
                << options;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }

  const auto seed = parse_u64(seed_text);
  if (!seed) return usage_error("--seed must be an unsigned 64-bit integer, got '" + seed_text + "'");
  const auto max_shard_bytes = parse_u64(max_shard_text);
  if (!max_shard_bytes) return usage_error("--max-shard-bytes must be an unsigned integer, got '" + max_shard_text + "'");
  if (const auto config = tools::synth_preset_config(preset); !config.ok()) {
    return usage_error(config.status().message());
  }

  const auto start = std::chrono::steady_clock::now();
  const Status status = tools::synth_checkpoint(
      {.out_dir = out_dir, .preset = preset, .seed = *seed, .max_shard_bytes = *max_shard_bytes,
       .tokenizer_dir = tokenizer_dir});
  if (!status.ok()) {
    std::fprintf(stderr, "mixserve synth: %s\n", status.to_string().c_str());
    return kExitFailure;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "mixserve synth: wrote preset %s (seed %llu) to %s in %.2f s\n", preset.c_str(),
               static_cast<unsigned long long>(*seed), out_dir.c_str(), seconds);
  return 0;
}

}  // namespace mixserve::cli
