// `mixserve quantize`: RTN quantization of a fp16/bf16/f32 HF checkpoint's linear weights (every 2-D
// `*_proj.weight`) into int4 (group G) or int8, packed in the GEMM's tensor-core layout (WeightLayout::mma_v1,
// kernels/formats/packed_weight.h), or fp8 e4m3 (W8A8, per-channel scales) row-major, the layout both GPU fp8
// paths read (kernels/cuda/gemm/gemm.h); written as one model.safetensors in DIR2 with the other tensors copied
// unchanged. Per tensor it prints the relative Frobenius error of the dequantized weight.
//
// Output tensors for weight NAME.weight: NAME.qweight (int4/int8: u8 packed bytes; fp8: F8_E4M3 [n][k]),
// NAME.scales (f32 [n][n_groups] or [n]), NAME.qzeros (int4 only, f32 [n][n_groups]); metadata:
// mixserve_weight_format, mixserve_layout ("mma_v1", fp8: "row_major"), mixserve_group_size, and NAME shapes in
// "NAME.shape" = "n,k".
// The worker's loader reads this directory as it is (worker/quantized_checkpoint.h): no re-quantization.
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "kernels/formats/packed_weight.h"
#include "tools/cli/commands.h"

namespace mixserve::cli {
namespace {

namespace po = boost::program_options;
namespace fs = std::filesystem;

bool is_linear_weight(const std::string& name, const TensorInfo& info) {
  const std::string suffix = "_proj.weight";
  return info.shape.size() == 2 && name.size() > suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
         (info.dtype == DType::f16 || info.dtype == DType::bf16 || info.dtype == DType::f32);
}

WeightFormat dense_format(DType d) {
  return d == DType::f16 ? WeightFormat::f16 : d == DType::bf16 ? WeightFormat::bf16 : WeightFormat::f32;
}

std::vector<uint8_t> float_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

double relative_error(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - ref[i]) * (static_cast<double>(a[i]) - ref[i]);
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Quantizes and packs one tensor into the writer; returns its relative error.
Result<double> quantize_tensor(const std::string& name, const TensorRef& t, WeightFormat format, int group,
                               SafetensorsWriter& writer) {
  const int64_t n = t.info->shape[0], k = t.info->shape[1];
  const QuantizedWeight dense = make_dense_weight_from_bytes(t.bytes.data(), n, k, dense_format(t.info->dtype));
  const std::vector<float> w = dequantize(dense);
  const std::string base = name.substr(0, name.size() - std::string(".weight").size());
  writer.set_metadata(base + ".shape", std::to_string(n) + "," + std::to_string(k));
  if (format == WeightFormat::fp8_e4m3) {
    QuantizedWeight q = quantize_fp8(w.data(), n, k);
    const double err = relative_error(dequantize(q), w);
    writer.add(base + ".qweight", DType::fp8_e4m3, {n, k}, std::move(q.data));
    writer.add(base + ".scales", DType::f32, {n}, float_bytes(q.scales));
    return err;
  }
  const QuantizedWeight q = format == WeightFormat::int4 ? quantize_int4(w.data(), n, k, group) : quantize_int8(w.data(), n, k);
  MIXSERVE_ASSIGN_OR_RETURN(QuantizedWeight packed, pack_for_tensor_cores(q));
  const double err = relative_error(dequantize(packed), w);
  const int64_t packed_bytes = static_cast<int64_t>(packed.data.size());
  writer.add(base + ".qweight", DType::u8, {packed_bytes}, std::move(packed.data));
  const std::vector<int64_t> scale_shape =
      format == WeightFormat::int4 ? std::vector<int64_t>{n, q.n_groups()} : std::vector<int64_t>{n};
  writer.add(base + ".scales", DType::f32, scale_shape, float_bytes(packed.scales));
  if (format == WeightFormat::int4) writer.add(base + ".qzeros", DType::f32, scale_shape, float_bytes(packed.zeros));
  return err;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "mixserve quantize: %s\n", message.c_str());
  return 1;
}

}  // namespace

int run_quantize(int argc, char** argv) {
  std::string model_dir, out_dir, format_name;
  int group = 128;
  po::options_description options("options");
  options.add_options()
      ("help,h", "print this help")
      ("model", po::value(&model_dir)->required()->value_name("DIR"), "HF checkpoint (fp16/bf16/f32 weights)")
      ("weight-format", po::value(&format_name)->required()->value_name("int4|int8|fp8"), "target format")
      ("group-size", po::value(&group)->value_name("G"), "int4 group size: 32, 64 or 128 (default 128)")
      ("out", po::value(&out_dir)->required()->value_name("DIR2"), "output directory (created when missing)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: mixserve quantize --model DIR --weight-format int4|int8|fp8 [--group-size 128] --out DIR2\n\n"
                << options;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "mixserve quantize: %s (see 'mixserve quantize --help')\n", e.what());
    return 2;
  }
  if (format_name != "int4" && format_name != "int8" && format_name != "fp8")
    return fail("--weight-format must be int4, int8 or fp8, got '" + format_name + "'");
  if (group != 32 && group != 64 && group != 128) return fail("--group-size must be 32, 64 or 128");
  const WeightFormat format = format_name == "int4"   ? WeightFormat::int4
                              : format_name == "int8" ? WeightFormat::int8
                                                      : WeightFormat::fp8_e4m3;

  auto ckpt = Checkpoint::open(model_dir);
  if (!ckpt.ok()) return fail(ckpt.status().to_string());
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return fail("cannot create " + out_dir + ": " + ec.message());
  SafetensorsWriter writer;
  writer.set_metadata("mixserve_weight_format", format_name);
  writer.set_metadata("mixserve_layout", format == WeightFormat::fp8_e4m3 ? "row_major" : "mma_v1");
  writer.set_metadata("mixserve_group_size", format == WeightFormat::int4 ? std::to_string(group) : "0");
  double worst = 0;
  for (const std::string& name : ckpt->tensor_names()) {
    auto t = ckpt->tensor(name);
    if (!t.ok()) return fail(t.status().to_string());
    if (!is_linear_weight(name, *t->info)) {
      writer.add(name, t->info->dtype, t->info->shape, std::vector<uint8_t>(t->bytes.begin(), t->bytes.end()));
      continue;
    }
    auto err = quantize_tensor(name, *t, format, group, writer);
    if (!err.ok()) return fail(name + ": " + err.status().to_string());
    worst = std::max(worst, *err);
    std::printf("%-48s %s -> %s rel err %.3e\n", name.c_str(), shape_to_string(t->info->shape).c_str(),
                format_name.c_str(), *err);
  }
  if (Status st = writer.write(out_dir + "/model.safetensors"); !st.ok()) return fail(st.to_string());
  for (const char* f : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"}) {
    if (fs::exists(fs::path(model_dir) / f)) fs::copy_file(fs::path(model_dir) / f, fs::path(out_dir) / f,
                                                           fs::copy_options::overwrite_existing, ec);
  }
  std::printf("wrote %s/model.safetensors; worst relative error %.3e\n", out_dir.c_str(), worst);
  return 0;
}

}  // namespace mixserve::cli
