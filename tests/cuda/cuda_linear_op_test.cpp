// The CUDA backend's linear op (worker/cuda/cuda_linear.h) against the CPU backend's linear (CpuBackend::linear,
// f32 accumulation over the exact dequantized weight) on the same QuantizedWeight and the same activations
// (rounded to fp16/bf16 first, so both sides read equal inputs). Fresh random data each run; outputs poisoned
// with NaN before each run.
//
// Tolerances (relative Frobenius error): the GPU rounds each dequantized weight to the activation dtype (int4:
// (q - z) * s in one multiply; int8 and dense: exact), accumulates in fp32, rounds the output, and rounds once
// more after adding the bias. Per element that is at most 2^-11 (fp16) or 2^-8 (bf16) relative per rounding,
// and the weight roundings average out over k; kernels/cuda/gemm's own test measured 2-3e-4 (fp16) and
// 1.6-2.9e-3 (bf16) against fp64. Bounds: fp16 2e-3, bf16 1e-2 (as that test).
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/model_config.h"
#include "core/safetensors.h"
#include "kernels/formats/packed_weight.h"
#include "tools/synth/synth.h"
#include "worker/cpu_backend.h"
#include "worker/cuda/cuda_linear.h"
#include "worker/model_weights.h"
#include "worker/tp_plan.h"
#include "worker_ops_test_support.h"

namespace mixserve {
namespace {

using cuda::ActDtype;

double tolerance(ActDtype act) { return act == ActDtype::bf16 ? 1e-2 : 2e-3; }

struct Comparison {
  double error = 0;
  size_t non_finite = 0;
  std::vector<float> gpu;
};

// One run of both sides on fresh activations. `cpu_weight` is the CPU backend's weight for the same
// QuantizedWeight and bias that `gpu_weight` was made from.
Comparison compare(CudaLinearContext& ctx, const CudaLinearWeight& gpu_weight, const LinearWeight& cpu_weight,
                   int64_t m, std::mt19937_64& rng) {
  const ActDtype act = gpu_weight.act();
  const int64_t n = gpu_weight.n(), k = gpu_weight.k();
  const test::Activations x = test::random_activations(static_cast<size_t>(m * k), act, rng);
  CpuBackend cpu(test::op_test_threads());
  std::vector<float> ref(static_cast<size_t>(m * n));
  cpu.linear(x.values.data(), m, cpu_weight, ref.data());

  cuda::DeviceBytes dx = test::upload_bits(x.bits);
  cuda::DeviceBytes dy = test::poisoned(static_cast<size_t>(m * n));
  const Status st = ctx.run(gpu_weight, dx.get(), m, dy.get());
  EXPECT_TRUE(st.ok()) << st.to_string();
  Comparison c;
  c.gpu = test::download_act(dy, static_cast<size_t>(m * n), act);
  c.non_finite = test::count_non_finite(c.gpu);
  c.error = test::relative_frobenius_error(c.gpu, ref);
  return c;
}

struct Made {
  std::unique_ptr<CudaLinearWeight> gpu;
  std::unique_ptr<LinearWeight> cpu;
};

Made make_both(const QuantizedWeight& w, const std::vector<float>& bias, ActDtype act) {
  auto gpu = CudaLinearWeight::create(w, bias, act);
  EXPECT_TRUE(gpu.ok()) << gpu.status().to_string();
  CpuBackend cpu(test::op_test_threads());
  return {gpu.ok() ? std::move(*gpu) : nullptr, cpu.load_linear(w, bias)};
}

QuantizedWeight random_weight(WeightFormat format, int group, int64_t n, int64_t k, std::mt19937_64& rng) {
  const std::vector<float> w = test::random_normal(static_cast<size_t>(n * k), rng, 0.05f);
  switch (format) {
    case WeightFormat::int4: return quantize_int4(w.data(), n, k, group);
    case WeightFormat::int8: return quantize_int8(w.data(), n, k);
    case WeightFormat::fp8_e4m3: return quantize_fp8(w.data(), n, k);
    default: return make_dense_weight(w.data(), n, k, format);
  }
}

std::unique_ptr<CudaLinearContext> make_context(size_t gemm_workspace = CudaLinearContext::kDefaultGemmWorkspaceBytes) {
  auto ctx = CudaLinearContext::create(nullptr, gemm_workspace);
  EXPECT_TRUE(ctx.ok()) << ctx.status().to_string();
  return ctx.ok() ? std::move(*ctx) : nullptr;
}

struct FormatCase {
  WeightFormat format;
  int group;
};

std::string describe(const FormatCase& f, ActDtype act, int64_t n, int64_t k, int64_t m, bool bias) {
  return std::string(weight_format_name(f.format)) + (f.group ? " g" + std::to_string(f.group) : "") + " " +
         cuda::act_dtype_name(act) + " n=" + std::to_string(n) + " k=" + std::to_string(k) + " m=" +
         std::to_string(m) + (bias ? " +bias" : "");
}

void check_over_m(const FormatCase& f, ActDtype act, int64_t n, int64_t k, bool with_bias, CudaLinearContext& ctx,
                  std::mt19937_64& rng) {
  const QuantizedWeight w = random_weight(f.format, f.group, n, k, rng);
  const std::vector<float> bias = with_bias ? test::random_normal(static_cast<size_t>(n), rng, 0.5f) : std::vector<float>{};
  Made made = make_both(w, bias, act);
  ASSERT_NE(made.gpu, nullptr);
  for (int64_t m : {1, 3, 17, 64, 300}) {
    const Comparison c = compare(ctx, *made.gpu, *made.cpu, m, rng);
    const std::string what = describe(f, act, n, k, m, with_bias);
    EXPECT_EQ(c.non_finite, 0u) << what << ": unwritten (NaN) outputs";
    EXPECT_LT(c.error, tolerance(act)) << what;
    std::printf("  %s: rel err %.2e\n", what.c_str(), c.error);
  }
}

// int4 g128 / g32, int8 and fp8 (W8A8: the CPU backend rounds x per token as the GPU does) through
// kernels/cuda/gemm, both activation dtypes, ragged N and K (k a multiple of 8, which the kernel needs; k = 1000
// is not a multiple of the int4 groups, n = 333 not of the 16-row tiles). m = 300 runs fp8 on cuBLASLt on sm_90.
TEST(CudaLinearOp, QuantizedMatchesCpuBackend) {
  auto rng = test::make_rng(601);
  auto ctx = make_context();
  ASSERT_NE(ctx, nullptr);
  for (const FormatCase& f : {FormatCase{WeightFormat::int4, 128}, FormatCase{WeightFormat::int4, 32},
                              FormatCase{WeightFormat::int8, 0}, FormatCase{WeightFormat::fp8_e4m3, 0}}) {
    for (ActDtype act : {ActDtype::f16, ActDtype::bf16}) {
      check_over_m(f, act, 200, 1000, false, *ctx, rng);
      check_over_m(f, act, 333, 1096, true, *ctx, rng);
    }
  }
}

// Dense fp16/bf16 weights through cuBLAS, including a k that is not a multiple of 8.
TEST(CudaLinearOp, DenseMatchesCpuBackend) {
  auto rng = test::make_rng(602);
  auto ctx = make_context();
  ASSERT_NE(ctx, nullptr);
  for (ActDtype act : {ActDtype::f16, ActDtype::bf16}) {
    const FormatCase f{act == ActDtype::bf16 ? WeightFormat::bf16 : WeightFormat::f16, 0};
    check_over_m(f, act, 200, 1000, true, *ctx, rng);
    check_over_m(f, act, 333, 999, false, *ctx, rng);
  }
}

// A weight already in the packed layout (as `mixserve quantize` writes it) is used as it is.
TEST(CudaLinearOp, PrepackedWeightMatches) {
  auto rng = test::make_rng(603);
  auto ctx = make_context();
  ASSERT_NE(ctx, nullptr);
  const QuantizedWeight w = random_weight(WeightFormat::int4, 64, 160, 520, rng);
  auto packed = pack_for_tensor_cores(w);
  ASSERT_TRUE(packed.ok()) << packed.status().to_string();
  Made made = make_both(*packed, {}, ActDtype::f16);
  ASSERT_NE(made.gpu, nullptr);
  for (int64_t m : {1, 17}) {
    const Comparison c = compare(*ctx, *made.gpu, *made.cpu, m, rng);
    EXPECT_EQ(c.non_finite, 0u);
    EXPECT_LT(c.error, tolerance(ActDtype::f16)) << "m=" << m;
  }
}

// One context's split-K workspace serves weights of different shapes one after the other: the counters of each
// plan must start at zero although an earlier plan of another shape wrote partial sums into the same workspace
// (kernels/cuda/gemm/gemm.h keeps the counters in a fixed region for this). Each weight's
// result must come out bit for bit the same every time (split-K sums in a fixed order).
TEST(CudaLinearOp, SplitKWorkspaceSharedAcrossWeights) {
  auto rng = test::make_rng(604);
  auto ctx = make_context();
  ASSERT_NE(ctx, nullptr);
  const QuantizedWeight wa = random_weight(WeightFormat::int4, 128, 512, 4096, rng);
  const QuantizedWeight wb = random_weight(WeightFormat::int8, 0, 1040, 2048, rng);
  Made a = make_both(wa, {}, ActDtype::f16), b = make_both(wb, {}, ActDtype::f16);
  ASSERT_NE(a.gpu, nullptr);
  ASSERT_NE(b.gpu, nullptr);
  for (const Made* w : {&a, &b}) {
    auto plan = ctx->gemm_plan(*w->gpu, 1);
    ASSERT_TRUE(plan.ok()) << plan.status().to_string();
    ASSERT_GT(plan->splits, 1) << "precondition: a split-K plan at m = 1 (" << plan->describe() << ")";
  }
  const test::Activations xa = test::random_activations(4096, ActDtype::f16, rng);
  const test::Activations xb = test::random_activations(2048, ActDtype::f16, rng);
  cuda::DeviceBytes dxa = test::upload_bits(xa.bits), dxb = test::upload_bits(xb.bits);
  std::vector<float> first_a, first_b;
  for (int round = 0; round < 3; ++round) {
    for (int which = 0; which < 2; ++which) {
      const Made& w = which == 0 ? a : b;
      cuda::DeviceBytes dy = test::poisoned(static_cast<size_t>(w.gpu->n()));
      const Status st = ctx->run(*w.gpu, which == 0 ? dxa.get() : dxb.get(), 1, dy.get());
      ASSERT_TRUE(st.ok()) << st.to_string();
      const std::vector<float> y = test::download_act(dy, static_cast<size_t>(w.gpu->n()), ActDtype::f16);
      EXPECT_EQ(test::count_non_finite(y), 0u) << "round " << round << " weight " << which;
      std::vector<float>& first = which == 0 ? first_a : first_b;
      if (round == 0) {
        first = y;
        std::vector<float> ref(static_cast<size_t>(w.gpu->n()));
        CpuBackend cpu(test::op_test_threads());
        cpu.linear((which == 0 ? xa : xb).values.data(), 1, *w.cpu, ref.data());
        EXPECT_LT(test::relative_frobenius_error(y, ref), tolerance(ActDtype::f16)) << "weight " << which;
      } else {
        EXPECT_EQ(y, first) << "round " << round << " weight " << which << " differs from round 0";
      }
    }
  }
}

// A context with little or no GEMM workspace re-plans with fewer splits instead of failing or allocating.
TEST(CudaLinearOp, SmallWorkspaceUsesFewerSplits) {
  auto rng = test::make_rng(605);
  const QuantizedWeight w = random_weight(WeightFormat::int4, 128, 512, 4096, rng);
  Made made = make_both(w, {}, ActDtype::bf16);
  ASSERT_NE(made.gpu, nullptr);
  for (size_t bytes : {size_t{0}, cuda::kGemmCounterBytes, cuda::kGemmCounterBytes + (size_t{64} << 10)}) {
    auto ctx = make_context(bytes);
    ASSERT_NE(ctx, nullptr);
    auto plan = ctx->gemm_plan(*made.gpu, 1);
    ASSERT_TRUE(plan.ok()) << plan.status().to_string();
    EXPECT_LE(plan->workspace_bytes, bytes) << plan->describe();
    if (bytes <= cuda::kGemmCounterBytes) {
      EXPECT_EQ(plan->splits, 1);  // no room for partial sums
    }
    const Comparison c = compare(*ctx, *made.gpu, *made.cpu, 1, rng);
    EXPECT_EQ(c.non_finite, 0u);
    EXPECT_LT(c.error, tolerance(ActDtype::bf16)) << "workspace " << bytes;
  }
}

// fp8 keeps the per-token quantized activations in the GEMM workspace: with too little of it for all rows at
// once, the rows run in slices that fit, and the result is the same as the CPU backend's.
TEST(CudaLinearOp, Fp8RowsRunInSlicesWhenTheWorkspaceIsSmall) {
  auto rng = test::make_rng(607);
  const QuantizedWeight w = random_weight(WeightFormat::fp8_e4m3, 0, 333, 1096, rng);
  Made made = make_both(w, {}, ActDtype::bf16);
  ASSERT_NE(made.gpu, nullptr);
  auto ctx = make_context(cuda::kGemmCounterBytes + (size_t{96} << 10));  // ~40 rows of fp16 codes
  ASSERT_NE(ctx, nullptr);
  EXPECT_FALSE(ctx->gemm_plan(*made.gpu, 300).ok()) << "precondition: 300 rows do not fit at once";
  const Comparison c = compare(*ctx, *made.gpu, *made.cpu, 300, rng);
  EXPECT_EQ(c.non_finite, 0u);
  EXPECT_LT(c.error, tolerance(ActDtype::bf16));
}

TEST(CudaLinearOp, RefusesWhatItCannotRun) {
  auto rng = test::make_rng(606);
  auto expect_code = [](const QuantizedWeight& w, std::vector<float> bias, ActDtype act, StatusCode code) {
    auto r = CudaLinearWeight::create(w, bias, act);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status().to_string();
    std::printf("  refused: %s\n", r.status().to_string().c_str());
  };
  expect_code(random_weight(WeightFormat::f32, 0, 16, 64, rng), {}, ActDtype::f16, StatusCode::unsupported);
  expect_code(random_weight(WeightFormat::f16, 0, 16, 64, rng), {}, ActDtype::bf16, StatusCode::unsupported);
  expect_code(random_weight(WeightFormat::bf16, 0, 16, 64, rng), {}, ActDtype::f16, StatusCode::unsupported);
  expect_code(random_weight(WeightFormat::int4, 32, 16, 68, rng), {}, ActDtype::f16, StatusCode::unsupported);
  expect_code(random_weight(WeightFormat::fp8_e4m3, 0, 16, 68, rng), {}, ActDtype::f16, StatusCode::unsupported);
  expect_code(random_weight(WeightFormat::int8, 0, 16, 64, rng), std::vector<float>(15, 0.0f), ActDtype::f16,
              StatusCode::invalid_argument);
}

// --- Weights as the worker's loader hands them to Backend::load_linear, tensor-parallel shards included. ---

// Forwards everything to a CpuBackend and keeps a copy of each linear weight (and its bias) it is given, with
// the CPU backend's object for it.
class RecordingBackend final : public Backend {
 public:
  struct Loaded {
    QuantizedWeight weight;
    std::vector<float> bias;
    const LinearWeight* cpu = nullptr;
  };
  explicit RecordingBackend(ThreadPool& pool) : cpu_(pool) {}
  std::vector<Loaded> loaded;

  const char* name() const override { return "recording-cpu"; }
  DeviceBuffer allocate(size_t bytes) override { return cpu_.allocate(bytes); }
  DeviceBuffer upload(const std::vector<float>& host) override { return cpu_.upload(host); }
  void download(const float* src, size_t n, float* dst) override { cpu_.download(src, n, dst); }
  std::unique_ptr<LinearWeight> load_linear(QuantizedWeight weight, std::vector<float> bias) override {
    loaded.push_back({.weight = weight, .bias = bias});
    auto lw = cpu_.load_linear(std::move(weight), std::move(bias));
    loaded.back().cpu = lw.get();
    return lw;
  }
  Status embedding(const LinearWeight& t, std::span<const int32_t> ids, float* out) override {
    return cpu_.embedding(t, ids, out);
  }
  void rms_norm(const float* x, const float* w, float* out, int64_t rows, int64_t dim, float eps) override {
    cpu_.rms_norm(x, w, out, rows, dim, eps);
  }
  void add_rms_norm(float* r, const float* x, const float* w, float* out, int64_t rows, int64_t dim,
                    float eps) override {
    cpu_.add_rms_norm(r, x, w, out, rows, dim, eps);
  }
  void linear(const float* x, int64_t m, const LinearWeight& w, float* y) override { cpu_.linear(x, m, w, y); }
  void rope(float* x, int64_t stride, int64_t heads, int64_t d, std::span<const int32_t> pos,
            const float* inv_freq) override {
    cpu_.rope(x, stride, heads, d, pos, inv_freq);
  }
  void gather_rows(const float* src, int64_t cols, std::span<const int64_t> rows, float* dst) override {
    cpu_.gather_rows(src, cols, rows, dst);
  }
  void silu_mul(const float* gu, float* out, int64_t rows, int64_t dim) override { cpu_.silu_mul(gu, out, rows, dim); }
  void kv_cache_write(const float* k, const float* v, int64_t stride, std::span<const AttentionSequence> seqs,
                      const KvPoolView& kp, const KvPoolView& vp) override {
    cpu_.kv_cache_write(k, v, stride, seqs, kp, vp);
  }
  void attention(const float* q, int64_t stride, int heads, float scale, std::span<const AttentionSequence> seqs,
                 const KvPoolView& kp, const KvPoolView& vp, float* out) override {
    cpu_.attention(q, stride, heads, scale, seqs, kp, vp, out);
  }

 private:
  CpuBackend cpu_;
};

// Every linear weight of a synthetic checkpoint's rank (qkv with Qwen2's biases, o, gate_up, down; ragged shards
// such as qwen2-tiny's down [128, 176] at TP=2 with int4 g32) runs on the GPU and matches the CPU backend. The
// vocabulary-sized tables (embedding, LM head: dense bf16) are run once per preset, at TP=1 without quantization.
TEST(CudaLinearOp, LoadedShardsMatchCpuBackend) {
  auto rng = test::make_rng(607);
  auto ctx = make_context();
  ASSERT_NE(ctx, nullptr);
  for (const std::string preset : {"tiny", "qwen2-tiny"}) {
    test::TempDir dir;
    ASSERT_TRUE(tools::synth_checkpoint({.out_dir = dir.path(), .preset = preset, .seed = 5}).ok());
    auto config = load_model_config(dir.path());
    ASSERT_TRUE(config.ok()) << config.status().to_string();
    auto checkpoint = Checkpoint::open(dir.path());
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().to_string();
    struct Options {
      std::optional<WeightFormat> format;
      int group;
    };
    for (const Options& o : {Options{std::nullopt, 128}, Options{WeightFormat::int4, 32}, Options{WeightFormat::int8, 128},
                             Options{WeightFormat::fp8_e4m3, 128}}) {
      for (int tp : {1, 2}) {
        for (int rank = 0; rank < tp; ++rank) {
          auto plan = make_tp_plan(*config, rank, tp);
          ASSERT_TRUE(plan.ok()) << plan.status().to_string();
          RecordingBackend backend(test::op_test_threads());
          auto weights = load_model_weights(*checkpoint, *config, *plan,
                                            {.linear_format = o.format, .group_size = o.group}, backend);
          ASSERT_TRUE(weights.ok()) << weights.status().to_string();
          for (const RecordingBackend::Loaded& l : backend.loaded) {
            const bool vocab_table = l.weight.n == config->vocab_size;
            if (vocab_table && (tp != 1 || o.format)) continue;
            const bool dense = l.weight.format == WeightFormat::bf16 || l.weight.format == WeightFormat::f16;
            for (ActDtype act : {ActDtype::bf16, ActDtype::f16}) {
              if (dense && act != (l.weight.format == WeightFormat::bf16 ? ActDtype::bf16 : ActDtype::f16)) continue;
              auto gpu = CudaLinearWeight::create(l.weight, l.bias, act);
              ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
              for (int64_t m : {1, 17}) {
                const Comparison c = compare(*ctx, **gpu, *l.cpu, m, rng);
                const std::string what = preset + " tp " + std::to_string(rank) + "/" + std::to_string(tp) + " " +
                                         describe({l.weight.format, l.weight.group_size}, act, l.weight.n,
                                                  l.weight.k, m, !l.bias.empty());
                EXPECT_EQ(c.non_finite, 0u) << what;
                EXPECT_LT(c.error, tolerance(act)) << what;
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace mixserve
