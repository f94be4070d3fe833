#pragma once
// The engine options `generate` and `serve` share: --weight-format, --group-size, --k-cache, --v-cache and
// --kv-tokens. add_engine_format_options() declares them; apply_engine_formats() parses the names into the
// EngineOptions after the command line is read (an unknown name is an error naming the option).
#include <boost/program_options.hpp>
#include <string>

#include "core/status.h"
#include "worker/engine.h"

namespace mixserve::cli {

struct EngineFormatArgs {
  std::string weight_format;  // empty: the checkpoint's own dtype
  std::string k_cache, v_cache;
};

void add_engine_format_options(boost::program_options::options_description& desc, EngineFormatArgs& args,
                               EngineOptions& options);
Status apply_engine_formats(const EngineFormatArgs& args, EngineOptions& options);

}  // namespace mixserve::cli
