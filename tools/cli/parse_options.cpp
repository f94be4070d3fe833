#include "tools/cli/parse_options.h"

#include <cstdio>
#include <iostream>

namespace mixserve::cli {

namespace po = boost::program_options;

std::optional<int> parse_options(const char* command, int argc, char** argv, const po::options_description& desc,
                                 po::variables_map& vm) {
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return 0;
    }
    po::notify(vm);  // after --help, so a help request never fails on a missing required option
  } catch (const po::error& e) {
    std::fprintf(stderr, "mixserve %s: %s\n", command, e.what());
    return 2;
  }
  return std::nullopt;
}

}  // namespace mixserve::cli
