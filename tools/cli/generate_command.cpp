// `mixserve generate`: runs the engine end to end on the CPU from prompt token ids, or from prompt text encoded
// with the model directory's tokenizer (then the generated text is printed after the ids).
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "core/thread_pool.h"
#include "tools/cli/commands.h"
#include "tools/cli/engine_format_options.h"
#include "tools/cli/parse_options.h"
#include "tools/cli/token_id_list.h"
#include "worker/engine.h"

namespace mixserve::cli {
namespace {

namespace po = boost::program_options;

Result<std::vector<int32_t>> parse_ids(const std::string& text) {
  MIXSERVE_ASSIGN_OR_RETURN(auto ids, parse_token_id_list(text, "--prompt-ids", /*allow_negative=*/false));
  if (ids.empty()) return invalid_argument("--prompt-ids is empty");
  return ids;
}

// The prompt as HF would encode it for a model: add_special_tokens true (the post-processor's BOS, if any).
Result<std::vector<int32_t>> encode_prompt(const Tokenizer& tokenizer, const std::string& text) {
  MIXSERVE_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer.encode(text, /*add_special_tokens=*/true));
  if (ids.empty()) return invalid_argument("--prompt encodes to no tokens");
  return ids;
}

int fail(const Status& status) {
  std::fprintf(stderr, "mixserve generate: %s\n", status.to_string().c_str());
  return 1;
}

}  // namespace

int run_generate(int argc, char** argv) {
  std::string model_dir, prompt_ids, prompt_text;
  EngineFormatArgs formats;
  GenerateRequest request;
  EngineOptions options;
  bool ignore_eos = false;
  int threads = 0;
  po::options_description desc("mixserve generate --model DIR (--prompt-ids 1,2,3 | --prompt TEXT) [options]");
  desc.add_options()("help,h", "this help")
      ("model", po::value(&model_dir)->required(), "HF checkpoint directory")
      ("prompt-ids", po::value(&prompt_ids), "comma-separated prompt token ids")
      ("prompt", po::value(&prompt_text), "prompt text, encoded with DIR's tokenizer (tokenizer.json)")
      ("max-tokens", po::value(&request.max_tokens)->default_value(16), "tokens to generate")
      ("temperature", po::value(&request.sampling.temperature)->default_value(0.0f), "0 is greedy")
      ("top-k", po::value(&request.sampling.top_k)->default_value(0), "0 is off")
      ("top-p", po::value(&request.sampling.top_p)->default_value(1.0f), "nucleus mass")
      ("min-p", po::value(&request.sampling.min_p)->default_value(0.0f), "relative probability floor")
      ("repetition-penalty", po::value(&request.sampling.repetition_penalty)->default_value(1.0f), "")
      ("presence-penalty", po::value(&request.sampling.presence_penalty)->default_value(0.0f), "")
      ("frequency-penalty", po::value(&request.sampling.frequency_penalty)->default_value(0.0f), "")
      ("seed", po::value(&request.sampling.seed)->default_value(0), "sampling seed")
      ("ignore-eos", po::bool_switch(&ignore_eos), "do not stop at end-of-sequence tokens")
      ("threads", po::value(&threads)->default_value(0), "CPU threads (0: all cores)");
  add_engine_format_options(desc, formats, options);
  po::variables_map vm;
  if (auto exit_code = parse_options("generate", argc, argv, desc, vm)) return *exit_code;
  if (vm.count("prompt-ids") == vm.count("prompt")) {
    std::fprintf(stderr, "mixserve generate: give exactly one of --prompt-ids and --prompt\n");
    return 2;
  }
  std::unique_ptr<Tokenizer> tokenizer;
  if (vm.count("prompt")) {
    auto loaded = Tokenizer::load(model_dir);
    if (!loaded.ok()) return fail(loaded.status());
    tokenizer = std::move(*loaded);
  }
  auto ids = tokenizer ? encode_prompt(*tokenizer, prompt_text) : parse_ids(prompt_ids);
  if (!ids.ok()) return fail(ids.status());
  request.prompt = std::move(*ids);
  if (Status s = apply_engine_formats(formats, options); !s.ok()) return fail(s);

  ThreadPool pool(threads);
  LocalCommunicator comm;
  auto engine = Engine::load(model_dir, options, comm, pool);
  if (!engine.ok()) return fail(engine.status());
  if (!ignore_eos) request.eos_ids = (*engine)->config().eos_token_ids;
  auto tokens = generate_tokens(**engine, request);
  if (!tokens.ok()) return fail(tokens.status());
  for (size_t i = 0; i < tokens->size(); ++i) std::printf("%s%d", i ? "," : "", (*tokens)[i]);
  std::printf("\n");
  if (tokenizer) {
    auto text = tokenizer->decode(*tokens, /*skip_special_tokens=*/true);
    if (!text.ok()) return fail(text.status());
    std::fwrite(text->data(), 1, text->size(), stdout);
    std::printf("\n");
  }
  return 0;
}

}  // namespace mixserve::cli
