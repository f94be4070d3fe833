#include "coordinator/bench/workload.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <random>

namespace mixserve::bench {
namespace {

int64_t sample_len(int64_t len, double ratio, std::mt19937_64& rng) {
  const auto lo = std::max<int64_t>(1, static_cast<int64_t>(std::floor(static_cast<double>(len) * (1 - ratio))));
  const auto hi = std::max<int64_t>(lo, static_cast<int64_t>(std::ceil(static_cast<double>(len) * (1 + ratio))));
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

Result<std::vector<std::string>> read_prompt_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return not_found("cannot open prompt file " + path);
  std::vector<std::string> prompts;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    if (line.front() == '{') {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("prompt") || !j["prompt"].is_string()) {
        return invalid_argument(path + ":" + std::to_string(number) + ": a JSON line needs a string \"prompt\"");
      }
      prompts.push_back(j["prompt"].get<std::string>());
    } else {
      prompts.push_back(line);
    }
  }
  if (prompts.empty()) return invalid_argument("prompt file " + path + " has no prompts");
  return prompts;
}

// Gaps between arrivals: gamma(shape = burstiness, scale = 1 / (rate * burstiness)), whose mean is 1 / rate;
// burstiness 1 is the exponential gap of a Poisson process (vLLM's benchmark_serving does the same).
std::vector<double> arrival_times(int n, double rate, double burstiness, std::mt19937_64& rng) {
  std::vector<double> times(n, 0.0);
  if (!std::isfinite(rate)) return times;
  std::gamma_distribution<double> gap(burstiness, 1.0 / (rate * burstiness));
  double t = 0;
  for (int i = 0; i < n; ++i) {
    times[i] = t;
    t += gap(rng);
  }
  return times;
}

}  // namespace

Result<std::vector<BenchRequest>> make_workload(const WorkloadOptions& o) {
  if (o.num_prompts <= 0) return invalid_argument("--num-prompts must be positive");
  if (o.random_input_len <= 0 || o.random_output_len <= 0) return invalid_argument("lengths must be positive");
  if (o.random_range_ratio < 0 || o.random_range_ratio >= 1) {
    return invalid_argument("--random-range-ratio must be in [0, 1)");
  }
  if (!(o.request_rate > 0)) return invalid_argument("--request-rate must be positive");
  if (!(o.burstiness > 0)) return invalid_argument("--burstiness must be positive");
  if (o.token_id_min < 0 || o.token_id_max <= o.token_id_min) return invalid_argument("bad token id range");
  std::mt19937_64 rng(o.seed);
  std::vector<std::string> texts;
  if (!o.prompt_file.empty()) {
    auto read = read_prompt_file(o.prompt_file);
    if (!read.ok()) return read.status();
    texts = std::move(*read);
  }
  std::uniform_int_distribution<int32_t> token(o.token_id_min, o.token_id_max - 1);
  const std::vector<double> arrivals = arrival_times(o.num_prompts, o.request_rate, o.burstiness, rng);
  std::vector<BenchRequest> requests(o.num_prompts);
  for (int i = 0; i < o.num_prompts; ++i) {
    BenchRequest& r = requests[i];
    if (texts.empty()) {
      r.prompt_len = sample_len(o.random_input_len, o.random_range_ratio, rng);
      for (int64_t k = 0; k < r.prompt_len; ++k) r.prompt_ids.push_back(token(rng));
    } else {
      r.prompt_text = texts[i % texts.size()];
    }
    r.max_tokens = sample_len(o.random_output_len, o.random_range_ratio, rng);
    r.arrival_s = arrivals[i];
  }
  return requests;
}

}  // namespace mixserve::bench
