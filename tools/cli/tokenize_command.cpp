// `mixserve tokenize`: the model directory's tokenizer from the command line. Encodes text to comma-separated
// ids (HF encode with add_special_tokens, unless --no-special), or decodes ids back to text with --decode.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "coordinator/tokenizer/tokenizer.h"
#include "tools/cli/commands.h"
#include "tools/cli/token_id_list.h"

namespace mixserve::cli {
namespace {

namespace po = boost::program_options;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int fail(const Status& status) {
  std::fprintf(stderr, "mixserve tokenize: %s\n", status.to_string().c_str());
  return kExitFailure;
}

}  // namespace

int run_tokenize(int argc, char** argv) {
  std::string model_dir, text, decode_ids;
  bool no_special = false, skip_special = false, reject_invalid = false;
  po::options_description options("options");
  options.add_options()("help,h", "print this help")("model", po::value(&model_dir)->required()->value_name("DIR"),
                                                     "directory holding tokenizer.json")(
      "text", po::value(&text)->value_name("TEXT"), "text to encode (or give it as the last argument)")(
      "no-special", po::bool_switch(&no_special), "encode without the post-processor's special tokens (BOS)")(
      "decode", po::value(&decode_ids)->value_name("IDS"), "decode comma-separated ids instead of encoding")(
      "skip-special", po::bool_switch(&skip_special), "with --decode: leave special tokens out")(
      "reject-invalid-utf8", po::bool_switch(&reject_invalid), "fail on invalid UTF-8 instead of replacing it");
  po::positional_options_description positional;
  positional.add("text", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: mixserve tokenize --model DIR [--no-special] \"text\"\n"
                   "       mixserve tokenize --model DIR --decode 1,2,3 [--skip-special]\n\n"
                   "Prints the token ids of the text, comma-separated, or the text of the ids.\n\n"
                << options;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "mixserve tokenize: %s (see 'mixserve tokenize --help')\n", e.what());
    return kExitUsage;
  }
  if (vm.count("decode") == vm.count("text")) {
    std::fprintf(stderr, "mixserve tokenize: give either text to encode or --decode IDS\n");
    return kExitUsage;
  }

  auto tokenizer = Tokenizer::load(model_dir, {.reject_invalid_utf8 = reject_invalid});
  if (!tokenizer.ok()) return fail(tokenizer.status());
  if (vm.count("decode")) {
    auto ids = parse_token_id_list(decode_ids, "--decode", /*allow_negative=*/true);
    if (!ids.ok()) return fail(ids.status());
    auto decoded = (*tokenizer)->decode(*ids, skip_special);
    if (!decoded.ok()) return fail(decoded.status());
    std::fwrite(decoded->data(), 1, decoded->size(), stdout);  // the text may hold NUL characters
    std::fputc('\n', stdout);
    return 0;
  }
  auto ids = (*tokenizer)->encode(text, !no_special);
  if (!ids.ok()) return fail(ids.status());
  for (size_t i = 0; i < ids->size(); ++i) std::printf("%s%d", i ? "," : "", (*ids)[i]);
  std::printf("\n");
  return 0;
}

}  // namespace mixserve::cli
