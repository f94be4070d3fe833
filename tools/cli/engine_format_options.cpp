#include "tools/cli/engine_format_options.h"

namespace mixserve::cli {

namespace po = boost::program_options;

void add_engine_format_options(po::options_description& desc, EngineFormatArgs& args, EngineOptions& options) {
  desc.add_options()
      ("weight-format", po::value(&args.weight_format),
       "f32|fp16|bf16|int8|int4|fp8 (default: the checkpoint's dtype)")
      ("group-size", po::value(&options.weights.group_size)->default_value(128), "int4 group size: 32, 64 or 128")
      ("k-cache", po::value(&args.k_cache)->default_value("fp16"), "K cache format: fp32|fp16|bf16|fp8|int8|int4")
      ("v-cache", po::value(&args.v_cache)->default_value("fp16"), "V cache format: fp32|fp16|bf16|fp8|int8|int4")
      ("kv-tokens", po::value(&options.kv_tokens)->default_value(16384), "KV cache capacity in tokens");
}

Status apply_engine_formats(const EngineFormatArgs& args, EngineOptions& options) {
  if (!args.weight_format.empty()) {
    auto format = parse_weight_format(args.weight_format);
    if (!format.ok()) return format.status().with_context("--weight-format");
    options.weights.linear_format = *format;
  }
  auto k = parse_kv_format(args.k_cache);
  if (!k.ok()) return k.status().with_context("--k-cache");
  auto v = parse_kv_format(args.v_cache);
  if (!v.ok()) return v.status().with_context("--v-cache");
  options.k_format = *k;
  options.v_format = *v;
  return Status::ok_status();
}

}  // namespace mixserve::cli
