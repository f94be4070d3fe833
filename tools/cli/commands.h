#pragma once
// The subcommands of the `mixserve` binary. Each parses its own arguments and returns the process exit code;
// errors print one line naming the file/tensor/argument and return non-zero.

namespace mixserve::cli {

int run_synth(int argc, char** argv);     // tools/cli/synth_command.cpp
int run_generate(int argc, char** argv);  // tools/cli/generate_command.cpp
int run_tokenize(int argc, char** argv);  // tools/cli/tokenize_command.cpp
int run_eval(int argc, char** argv);      // tools/cli/eval_command.cpp
int run_quantize(int argc, char** argv);  // tools/cli/quantize_command.cpp
int run_serve(int argc, char** argv);     // tools/cli/serve_command.cpp
int run_bench(int argc, char** argv);     // tools/cli/bench_command.cpp
int run_cluster_check(int argc, char** argv);  // tools/cli/cluster_check_command.cpp

}  // namespace mixserve::cli
