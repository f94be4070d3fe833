// mixserve: one binary, subcommands dispatched by the first argument.
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/cli/commands.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Subcommand kSubcommands[] = {
    {"synth", mixserve::cli::run_synth, "write a deterministic synthetic HF checkpoint"},
    {"generate", mixserve::cli::run_generate, "generate tokens from prompt ids on the CPU engine"},
    {"tokenize", mixserve::cli::run_tokenize, "encode text to token ids, or decode ids, with a model's tokenizer"},
    {"eval", mixserve::cli::run_eval, "perplexity of a text file per weight and K/V cache format"},
    {"quantize", mixserve::cli::run_quantize, "RTN-quantize a checkpoint to int4/int8 in the GPU packed layout"},
    {"serve", mixserve::cli::run_serve, "serve the OpenAI API (completions, chat, streaming, metrics)"},
    {"bench", mixserve::cli::run_bench, "load-test an OpenAI-compatible server: TTFT, TPOT, ITL, E2E"},
    {"cluster-check", mixserve::cli::run_cluster_check, "under mpirun: start the cluster and check every replica"},
};

void print_usage() {
  std::fprintf(stderr, "usage: mixserve <command> [options]\n\ncommands:\n");
  for (const auto& c : kSubcommands) std::fprintf(stderr, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(stderr, "\n'mixserve <command> --help' describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kSubcommands) {
    if (std::string(argv[1]) == c.name) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "mixserve: unknown command '%s'\n", argv[1]);
  print_usage();
  return 2;
}
