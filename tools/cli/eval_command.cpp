// `mixserve eval`: perplexity of a text file through the CPU engine for several precision mixes (weight
// format x K cache format x V cache format), printed as a table and optionally written as JSON. The text is
// encoded with the model directory's tokenizer as one document (<s> first, as HF encodes with
// add_special_tokens) and scored in windows (worker/perplexity.h).
#include <boost/program_options.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "comm/communicator.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "core/thread_pool.h"
#include "tools/cli/commands.h"
#include "tools/cli/parse_options.h"
#include "worker/engine.h"
#include "worker/perplexity.h"

namespace mixserve::cli {
namespace {

namespace po = boost::program_options;

// One row of the table: the linear layers' weight format and the K and V cache formats. Embedding, LM head
// and norms stay in the checkpoint's dtype in every row.
struct PrecisionMix {
  std::string weights_name;  // as given: "bf16", "int8", "int4-g64", ...
  WeightOptions weights;
  KvFormat k = KvFormat::f16;
  KvFormat v = KvFormat::f16;
};

// The default rows: every weight format with fp16 K/V, every K/V pair with bf16 weights, and the mixes the
// targets name (int8 weights with int8 K/V; int4 weights with quantized K/V).
constexpr const char* kDefaultRuns =
    "bf16:fp32/fp32,bf16:fp16/fp16,bf16:bf16/bf16,bf16:fp8/fp8,bf16:int8/int8,bf16:int8/int4,bf16:int4/int4,"
    "int8:fp16/fp16,int8:int8/int8,fp8:fp16/fp16,fp8:fp8/fp8,int4-g128:fp16/fp16,int4-g64:fp16/fp16,int4-g32:fp16/fp16,"
    "int4-g128:int8/int8,int4-g128:int4/int4";

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, sep);)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

// "f32", "fp16", "bf16", "int8", "fp8" (W8A8), "int4-g128", "int4-g64", "int4-g32" ("int4" is group 128).
Result<WeightOptions> parse_weights(const std::string& name) {
  WeightOptions options;
  std::string format = name;
  if (name.rfind("int4-g", 0) == 0) {
    format = "int4";
    try {
      options.group_size = std::stoi(name.substr(6));
    } catch (const std::exception&) {
      return invalid_argument("weight format '" + name + "': the group size is not a number");
    }
    if (options.group_size != 32 && options.group_size != 64 && options.group_size != 128)
      return invalid_argument("weight format '" + name + "': int4 groups are 32, 64 or 128");
  }
  MIXSERVE_ASSIGN_OR_RETURN(WeightFormat parsed, parse_weight_format(format));
  options.linear_format = parsed;
  return options;
}

// "K/V", each a KV cache format name ("fp16/fp16", "int8/int4").
Result<std::pair<KvFormat, KvFormat>> parse_kv_pair(const std::string& text) {
  const auto parts = split(text, '/');
  if (parts.size() != 2) return invalid_argument("K/V cache pair '" + text + "' is not of the form K/V");
  MIXSERVE_ASSIGN_OR_RETURN(KvFormat k, parse_kv_format(parts[0]));
  MIXSERVE_ASSIGN_OR_RETURN(KvFormat v, parse_kv_format(parts[1]));
  return std::pair{k, v};
}

Result<PrecisionMix> make_mix(const std::string& weights, const std::string& kv) {
  PrecisionMix mix{.weights_name = weights};
  MIXSERVE_ASSIGN_OR_RETURN(mix.weights, parse_weights(weights));
  MIXSERVE_ASSIGN_OR_RETURN(auto pair, parse_kv_pair(kv));
  std::tie(mix.k, mix.v) = pair;
  return mix;
}

// --runs "W:K/V,..." lists rows; --weights and --kv (comma lists) give their cross product instead.
Result<std::vector<PrecisionMix>> plan_mixes(const std::string& runs, const std::string& weights,
                                             const std::string& kv) {
  std::vector<PrecisionMix> mixes;
  if (!weights.empty() || !kv.empty()) {
    for (const auto& w : split(weights.empty() ? "bf16" : weights, ','))
      for (const auto& p : split(kv.empty() ? "fp16/fp16" : kv, ',')) {
        MIXSERVE_ASSIGN_OR_RETURN(PrecisionMix mix, make_mix(w, p));
        mixes.push_back(mix);
      }
    return mixes;
  }
  for (const auto& run : split(runs.empty() ? kDefaultRuns : runs, ',')) {
    const auto colon = run.find(':');
    if (colon == std::string::npos) return invalid_argument("run '" + run + "' is not of the form WEIGHTS:K/V");
    MIXSERVE_ASSIGN_OR_RETURN(PrecisionMix mix, make_mix(run.substr(0, colon), run.substr(colon + 1)));
    mixes.push_back(mix);
  }
  return mixes;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path + ": cannot open the text file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Row {
  PrecisionMix mix;
  NllSum nll;
  double seconds = 0.0;
};

Result<Row> evaluate_mix(const std::string& model_dir, const PrecisionMix& mix, const std::vector<int32_t>& tokens,
                         const PerplexityOptions& options, ThreadPool& pool) {
  EngineOptions engine_options{.weights = mix.weights, .k_format = mix.k, .v_format = mix.v};
  engine_options.kv_tokens = options.context;
  LocalCommunicator comm;
  MIXSERVE_ASSIGN_OR_RETURN(auto engine, Engine::load(model_dir, engine_options, comm, pool));
  const auto start = std::chrono::steady_clock::now();
  MIXSERVE_ASSIGN_OR_RETURN(NllSum nll, evaluate_perplexity(*engine, tokens, options));
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return Row{.mix = mix, .nll = nll, .seconds = elapsed.count()};
}

void print_row(const Row& row, double reference_ppl) {
  const double ppl = row.nll.perplexity();
  std::printf("| %-9s | %-4s | %-4s | %7lld | %8.5f | %10.4f | %+7.2f%% | %7.1f |\n", row.mix.weights_name.c_str(),
              kv_format_name(row.mix.k), kv_format_name(row.mix.v), static_cast<long long>(row.nll.n_scored),
              row.nll.mean(), ppl, 100.0 * (ppl / reference_ppl - 1.0), row.seconds);
  std::fflush(stdout);
}

nlohmann::json to_json(const std::vector<Row>& rows, const std::string& model_dir, const std::string& data_path,
                       int64_t n_tokens, const PerplexityOptions& options) {
  nlohmann::json out = {{"model", model_dir}, {"data", data_path}, {"tokens", n_tokens},
                        {"context", options.context}, {"stride", options.stride}, {"rows", nlohmann::json::array()}};
  for (const Row& row : rows)
    out["rows"].push_back({{"weights", row.mix.weights_name}, {"k_cache", kv_format_name(row.mix.k)},
                           {"v_cache", kv_format_name(row.mix.v)}, {"scored_tokens", row.nll.n_scored},
                           {"nll_sum", row.nll.nll}, {"mean_nll", row.nll.mean()},
                           {"perplexity", row.nll.perplexity()}, {"seconds", row.seconds}});
  return out;
}

int fail(const Status& status) {
  std::fprintf(stderr, "mixserve eval: %s\n", status.to_string().c_str());
  return 1;
}

struct EvalArgs {
  std::string model_dir, data_path, runs, weights, kv, json_path;
  PerplexityOptions options;
  int64_t max_tokens = 0;
  int threads = 0;
};

// The parsed arguments, or the exit code when there is nothing to run (--help, a usage error).
std::variant<EvalArgs, int> parse_args(int argc, char** argv) {
  EvalArgs a;
  po::options_description desc(
      "mixserve eval --model DIR --data FILE [options]\n\nPerplexity of FILE (encoded with DIR's tokenizer) "
      "per precision mix.\nWeights: f32 fp16 bf16 int8 fp8 (W8A8) int4-g128 int4-g64 int4-g32.\n"
      "K/V caches: fp32 fp16 bf16 fp8 int8 int4.\n\noptions");
  desc.add_options()("help,h", "this help")
      ("model", po::value(&a.model_dir)->required(), "HF checkpoint directory with tokenizer.json")
      ("data", po::value(&a.data_path)->required(), "UTF-8 text file, scored as one document")
      ("runs", po::value(&a.runs), "rows as WEIGHTS:K/V,... (default: a fixed set of 16 mixes)")
      ("weights", po::value(&a.weights), "comma list; with --kv, the cross product replaces --runs")
      ("kv", po::value(&a.kv), "comma list of K/V pairs, e.g. fp16/fp16,int8/int4")
      ("context", po::value(&a.options.context)->default_value(0), "window tokens (0: the model's maximum)")
      ("stride", po::value(&a.options.stride)->default_value(0), "window spacing (0: equal to --context)")
      ("max-tokens", po::value(&a.max_tokens)->default_value(0), "score only the first N tokens (0: all)")
      ("chunk", po::value(&a.options.chunk_tokens)->default_value(256), "prefill chunk tokens")
      ("json", po::value(&a.json_path), "also write the rows as JSON to this file")
      ("threads", po::value(&a.threads)->default_value(0), "CPU threads (0: all cores)");
  po::variables_map vm;
  if (auto exit_code = parse_options("eval", argc, argv, desc, vm)) return *exit_code;
  return a;
}

// FILE encoded with DIR's tokenizer as HF's encode(text, add_special_tokens=True), cut to max_tokens.
Result<std::vector<int32_t>> read_tokens(const EvalArgs& a) {
  MIXSERVE_ASSIGN_OR_RETURN(auto tokenizer, Tokenizer::load(a.model_dir));
  MIXSERVE_ASSIGN_OR_RETURN(std::string text, read_file(a.data_path));
  MIXSERVE_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, tokenizer->encode(text, /*add_special_tokens=*/true));
  if (a.max_tokens > 0 && static_cast<int64_t>(tokens.size()) > a.max_tokens) tokens.resize(a.max_tokens);
  return tokens;
}

}  // namespace

int run_eval(int argc, char** argv) {
  auto parsed = parse_args(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  EvalArgs& a = std::get<EvalArgs>(parsed);
  auto mixes = plan_mixes(a.runs, a.weights, a.kv);
  if (!mixes.ok()) return fail(mixes.status());
  auto config = load_model_config(a.model_dir);
  if (!config.ok()) return fail(config.status());
  if (a.options.context == 0) a.options.context = config->max_position_embeddings;
  if (a.options.stride == 0) a.options.stride = a.options.context;
  auto tokens = read_tokens(a);
  if (!tokens.ok()) return fail(tokens.status());

  std::printf("model %s, text %s: %zu tokens, windows of %lld every %lld\n\n", a.model_dir.c_str(),
              a.data_path.c_str(), tokens->size(), static_cast<long long>(a.options.context),
              static_cast<long long>(a.options.stride));
  std::printf("| weights   | K    | V    | scored  | NLL/tok  | perplexity | vs row 1 | seconds |\n");
  std::printf("|-----------|------|------|---------|----------|------------|----------|---------|\n");
  ThreadPool pool(a.threads);
  std::vector<Row> rows;
  for (const PrecisionMix& mix : *mixes) {
    auto row = evaluate_mix(a.model_dir, mix, *tokens, a.options, pool);
    if (!row.ok()) return fail(row.status());
    rows.push_back(*row);
    print_row(rows.back(), rows.front().nll.perplexity());
  }
  if (!a.json_path.empty()) {
    std::ofstream out(a.json_path);
    out << to_json(rows, a.model_dir, a.data_path, static_cast<int64_t>(tokens->size()), a.options).dump(1) << "\n";
    if (!out) return fail(internal_error(a.json_path + ": cannot write"));
  }
  return 0;
}

}  // namespace mixserve::cli
