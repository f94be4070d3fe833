// `mixserve bench`: a load generator for OpenAI-compatible servers in the style of vLLM's benchmark_serving
// (coordinator/bench/). Prints the result table and, with --json-out, writes it as JSON.
#include <boost/program_options.hpp>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>

#include "coordinator/bench/bench_runner.h"
#include "coordinator/bench/bench_stats.h"
#include "coordinator/bench/workload.h"
#include "tools/cli/commands.h"
#include "tools/cli/parse_options.h"

namespace mixserve::cli {
namespace {

namespace po = boost::program_options;

int fail(const Status& status) {
  std::fprintf(stderr, "mixserve bench: %s\n", status.to_string().c_str());
  return 1;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buffer;
}

struct BenchArgs {
  std::string url, json_out, token_id_range;
  bench::BenchOptions options;
  bench::WorkloadOptions workload;
  int timeout_s = 600;
};

po::options_description describe(BenchArgs& a) {
  po::options_description desc("mixserve bench --url http://127.0.0.1:8000 --model NAME [options]");
  desc.add_options()("help,h", "this help")
      ("url", po::value(&a.url)->default_value("http://127.0.0.1:8000"), "server (path default /v1/completions)")
      ("model", po::value(&a.options.model)->required(), "model name to send")
      ("request-rate", po::value(&a.workload.request_rate)->default_value(std::numeric_limits<double>::infinity(), "inf"),
       "requests per second (Poisson arrivals; inf sends all at once)")
      ("burstiness", po::value(&a.workload.burstiness)->default_value(1.0),
       "gamma shape of the arrival gaps (1: Poisson, < 1 burstier, > 1 more regular)")
      ("concurrency", po::value(&a.options.max_concurrency)->default_value(0), "max requests in flight (0: no limit)")
      ("num-prompts", po::value(&a.workload.num_prompts)->default_value(100), "requests to send")
      ("random-input-len", po::value(&a.workload.random_input_len)->default_value(128), "prompt tokens")
      ("random-output-len", po::value(&a.workload.random_output_len)->default_value(128), "max_tokens per request")
      ("random-range-ratio", po::value(&a.workload.random_range_ratio)->default_value(0.0),
       "lengths uniform in [L(1-r), L(1+r)]")
      ("token-id-range", po::value(&a.token_id_range), "random prompt ids from MIN:MAX (default 1000:20000)")
      ("prompt-file", po::value(&a.workload.prompt_file), "one prompt per line (text, or JSON lines with \"prompt\")")
      ("ignore-eos", po::bool_switch(&a.options.ignore_eos), "generate max_tokens even past end-of-sequence")
      ("temperature", po::value(&a.options.temperature)->default_value(0.0), "sampling temperature")
      ("seed", po::value(&a.workload.seed)->default_value(0), "seed of the workload (prompts, lengths, arrivals)")
      ("timeout", po::value(&a.timeout_s)->default_value(600), "seconds one request may take")
      ("json-out", po::value(&a.json_out), "write the results as JSON to this file");
  return desc;
}

Status finish_args(BenchArgs& a) {
  if (!a.token_id_range.empty() &&
      std::sscanf(a.token_id_range.c_str(), "%d:%d", &a.workload.token_id_min, &a.workload.token_id_max) != 2) {
    return invalid_argument("--token-id-range must be MIN:MAX");
  }
  auto target = bench::parse_url(a.url);
  if (!target.ok()) return target.status();
  a.options.target = *target;
  a.options.request_timeout = std::chrono::seconds(a.timeout_s);
  return Status::ok_status();
}

std::string rate_text(double rate) { return std::isfinite(rate) ? std::to_string(rate) : "inf"; }

Status write_json(const BenchArgs& a, const bench::BenchSummary& summary, const std::string& started) {
  nlohmann::json out = bench::summary_json(summary);
  out["date"] = started;
  out["url"] = a.url;
  out["model"] = a.options.model;
  out["num_prompts"] = a.workload.num_prompts;
  out["request_rate"] = std::isfinite(a.workload.request_rate) ? nlohmann::json(a.workload.request_rate) : "inf";
  out["burstiness"] = a.workload.burstiness;
  out["max_concurrency"] = a.options.max_concurrency;
  out["random_input_len"] = a.workload.random_input_len;
  out["random_output_len"] = a.workload.random_output_len;
  out["prompt_file"] = a.workload.prompt_file;
  out["ignore_eos"] = a.options.ignore_eos;
  std::ofstream file(a.json_out);
  file << out.dump(2) << "\n";
  if (!file) return io_error("cannot write " + a.json_out);
  return Status::ok_status();
}

}  // namespace

int run_bench(int argc, char** argv) {
  BenchArgs args;
  po::options_description desc = describe(args);
  po::variables_map vm;
  if (auto exit_code = parse_options("bench", argc, argv, desc, vm)) return *exit_code;
  if (Status s = finish_args(args); !s.ok()) return fail(s);
  auto requests = bench::make_workload(args.workload);
  if (!requests.ok()) return fail(requests.status());

  const auto& t = args.options.target;
  std::fprintf(stderr, "mixserve bench: %d requests to %s:%s%s, rate %s, burstiness %.2f, concurrency %s\n",
               args.workload.num_prompts, t.host.c_str(), t.port.c_str(), t.path.c_str(),
               rate_text(args.workload.request_rate).c_str(), args.workload.burstiness,
               args.options.max_concurrency > 0 ? std::to_string(args.options.max_concurrency).c_str() : "unlimited");
  const std::string started = utc_now();
  const bench::BenchRun run = bench::run_bench(args.options, *requests);
  const bench::BenchSummary summary = bench::summarize_results(run.results, run.duration_s);
  std::cout << bench::format_table(summary);
  if (!args.json_out.empty()) {
    if (Status s = write_json(args, summary, started); !s.ok()) return fail(s);
  }
  return summary.failed == 0 ? 0 : 1;
}

}  // namespace mixserve::cli
