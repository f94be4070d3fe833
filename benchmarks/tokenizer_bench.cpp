// Single-threaded encode speed of our tokenizer on a text file: the peer of
// tools/reference/hf_tokenize_bench.py, printing the same JSON fields so run_tokenizer_bench.sh can compare.
//
//   tokenizer_bench --tokenizer DIR --text FILE [--repeat 3]
//
// Encodes the whole file as one string (add_special_tokens=false), best of --repeat runs, on the calling
// thread only; MB = 10^6 bytes of UTF-8 input. The tokenizer load is not timed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "coordinator/tokenizer/tokenizer.h"

namespace mixserve {
namespace {

struct BenchArgs {
  std::string tokenizer_dir;
  std::string text_path;
  int repeat = 3;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "tokenizer_bench: %s\nusage: tokenizer_bench --tokenizer DIR --text FILE [--repeat N]\n",
               message.c_str());
  std::exit(2);
}

BenchArgs parse_args(int argc, char** argv) {
  BenchArgs args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage_error("missing value after " + std::string(flag));
    const char* value = argv[++i];
    if (flag == "--tokenizer") args.tokenizer_dir = value;
    else if (flag == "--text") args.text_path = value;
    else if (flag == "--repeat") args.repeat = std::max(1, std::atoi(value));
    else usage_error("unknown flag " + std::string(flag));
  }
  if (args.tokenizer_dir.empty() || args.text_path.empty()) usage_error("--tokenizer and --text are required");
  return args;
}

// "third_party/tokenizers/llama3/" -> "llama3", as Python's basename(normpath(dir)) in the HF bench.
std::string dir_name(const std::string& dir) {
  std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p.filename().string();
}

int run(const BenchArgs& args) {
  std::ifstream in(args.text_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "tokenizer_bench: cannot read %s\n", args.text_path.c_str());
    return 1;
  }
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  // Strict UTF-8 so invalid bytes (replaced by default) cannot make our input differ from HF's.
  auto tokenizer = Tokenizer::load(args.tokenizer_dir, {.reject_invalid_utf8 = true});
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", tokenizer.status().to_string().c_str());
    return 1;
  }
  double best = std::numeric_limits<double>::infinity();
  size_t n_tokens = 0;
  for (int r = 0; r < args.repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    auto ids = (*tokenizer)->encode(text, /*add_special_tokens=*/false);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    if (!ids.ok()) {
      std::fprintf(stderr, "tokenizer_bench: encode: %s\n", ids.status().to_string().c_str());
      return 1;
    }
    best = std::min(best, elapsed.count());
    n_tokens = ids->size();
  }
  const nlohmann::json result = {
      {"impl", "mixserve"},
      {"tokenizer", dir_name(args.tokenizer_dir)},
      {"bytes", text.size()},
      {"seconds", best},
      {"mb_per_s", static_cast<double>(text.size()) / best / 1e6},
      {"n_tokens", n_tokens},
  };
  std::printf("%s\n", result.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace mixserve

int main(int argc, char** argv) { return mixserve::run(mixserve::parse_args(argc, argv)); }
