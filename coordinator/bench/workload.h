#pragma once
// What `mixserve bench` sends and when: the prompts (random token ids of a chosen length, which the
// completions API takes directly so input lengths are exact without a tokenizer, or lines of a prompt file),
// the completion length of each, and the arrival times (Poisson, gamma with a burstiness, or all at once).
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace mixserve::bench {

struct WorkloadOptions {
  int num_prompts = 100;
  int64_t random_input_len = 128;
  int64_t random_output_len = 128;
  double random_range_ratio = 0;   // lengths uniform in [L * (1 - r), L * (1 + r)]
  int32_t token_id_min = 1000;     // random prompt ids are drawn from [min, max)
  int32_t token_id_max = 20000;
  std::string prompt_file;         // one prompt per line (plain text, or JSON lines with a "prompt" field)
  double request_rate = std::numeric_limits<double>::infinity();  // requests/s; inf: all at t = 0
  double burstiness = 1.0;         // gamma shape of the inter-arrival times; 1 is Poisson
  uint64_t seed = 0;
};

struct BenchRequest {
  std::vector<int32_t> prompt_ids;  // random prompts
  std::optional<std::string> prompt_text;  // prompt-file prompts
  int64_t prompt_len = 0;           // known for random prompts; 0 for text (the server's usage tells)
  int64_t max_tokens = 0;
  double arrival_s = 0;             // seconds after the start
};

// invalid_argument for nonsense options, not_found / io_error for the prompt file.
Result<std::vector<BenchRequest>> make_workload(const WorkloadOptions& options);

}  // namespace mixserve::bench
