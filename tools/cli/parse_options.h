#pragma once
// The option parsing every subcommand shares: --help prints the description and exits 0; a usage error is
// printed as "mixserve COMMAND: what" and exits 2 (as program_options reports it).
#include <boost/program_options.hpp>
#include <optional>

namespace mixserve::cli {

// Fills vm from argv by desc (and runs its notifiers). Returns the exit code when the command stops here
// (help or a usage error), std::nullopt when it should go on.
std::optional<int> parse_options(const char* command, int argc, char** argv,
                                 const boost::program_options::options_description& desc,
                                 boost::program_options::variables_map& vm);

}  // namespace mixserve::cli
