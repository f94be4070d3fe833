// The CUDA backend's attention op (worker/cuda/cuda_attention.h, with CudaAttentionStep and DeviceKvCache)
// against the CPU backend on the same data: CpuBackend::rope on q and k, kv_cache_write, attention, over a KvCache
// of the same options. Two steps per case: prompts (a first prefill chunk, whole prompts, a one-token prompt),
// then a mixed batch (the second chunk of the first prompt, reading its earlier context from the cache, a fresh
// prompt, and decodes). After each step: the GPU's pools, downloaded, hold the CPU's bytes at every position of
// every sequence (the fused write is bit-exact, kernels/cuda/attention), and the outputs agree.
//
// Tolerance (relative Frobenius error of the output): kernels/cuda/attention's tests bound the kernels at 5e-3
// against the CPU on the same cache bytes (fp16 Q/P/K/V operands, fp32 accumulation). Here the GPU's Q is also
// rounded to fp16 after rotation (CPU: f32), a relative change of at most 2^-12 per element, far below that.
// bf16 activations add one rounding of the output to bf16, at most 2^-9 relative per element: 5e-3 + 2e-3.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/cpu/rope.h"
#include "worker/cpu_backend.h"
#include "worker/cuda/cuda_attention.h"
#include "worker/cuda/device_kv_cache.h"
#include "worker/kv_cache.h"
#include "worker_ops_test_support.h"

namespace mixserve {
namespace {

using cuda::ActDtype;

double tolerance(ActDtype act) { return act == ActDtype::bf16 ? 7e-3 : 5e-3; }

constexpr RopeScaling kLlama3Scaling{.type = RopeScalingType::llama3, .factor = 8.0, .low_freq_factor = 1.0,
                                     .high_freq_factor = 4.0, .original_max_position_embeddings = 8192};
constexpr double kTheta = 500000.0;

// Rows of the caller's buffers: `kernel` lists decodes first, then prefills (the kernels' order: the op runs in
// place for fp16); `reversed` gives the rows in the opposite order of the listing (the op gathers and scatters).
enum class RowOrder { kernel, reversed };

struct OpCase {
  int n_kv_heads = 2;
  int group = 4;
  int head_dim = 128;
  int block_size = 64;
  KvFormat k_format = KvFormat::f16;
  KvFormat v_format = KvFormat::f16;
  ActDtype act = ActDtype::f16;
  RowOrder order = RowOrder::reversed;
  int n_q_heads() const { return n_kv_heads * group; }
  int qkv_cols() const { return (n_q_heads() + 2 * n_kv_heads) * head_dim; }
  int out_cols() const { return n_q_heads() * head_dim; }
};

std::string describe(const OpCase& c) {
  return std::string("K ") + kv_format_name(c.k_format) + " V " + kv_format_name(c.v_format) + " D " +
         std::to_string(c.head_dim) + " Hkv " + std::to_string(c.n_kv_heads) + " group " + std::to_string(c.group) +
         " bs " + std::to_string(c.block_size) + " " + cuda::act_dtype_name(c.act) +
         (c.order == RowOrder::kernel ? " rows in kernel order" : " rows reversed");
}

// The sequences: A is prefilled in two chunks (70, then 50 reading the first 70 from the cache), B, C and D are
// prompts then decode, E arrives in step 2. Lengths straddle block boundaries (64, 128).
struct SeqStep {
  int seq;
  int start_pos;
  int n_new;
};
const std::vector<std::vector<SeqStep>> kSteps = {
    {{0, 0, 70}, {1, 0, 40}, {2, 0, 130}, {3, 0, 1}},
    {{0, 70, 50}, {1, 40, 1}, {4, 0, 33}, {2, 130, 1}, {3, 1, 1}},
};
constexpr int kSeqs = 5;

int final_length(int seq) {
  int len = 0;
  for (const auto& step : kSteps)
    for (const SeqStep& s : step)
      if (s.seq == seq) len = s.start_pos + s.n_new;
  return len;
}

// Block tables for every sequence, drawn from a shuffled pool so the kernels must follow them.
struct Tables {
  int64_t n_blocks = 0;
  std::vector<std::vector<int32_t>> ids;
};
Tables make_tables(int block_size, std::mt19937_64& rng) {
  Tables t;
  int64_t needed = 0;
  for (int s = 0; s < kSeqs; ++s) needed += (final_length(s) + block_size - 1) / block_size;
  t.n_blocks = needed + 3;  // a few blocks no sequence owns
  std::vector<int32_t> pool(t.n_blocks);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  size_t next = 0;
  for (int s = 0; s < kSeqs; ++s) {
    t.ids.emplace_back(pool.begin() + next, pool.begin() + next + (final_length(s) + block_size - 1) / block_size);
    next += t.ids.back().size();
  }
  return t;
}

// One step's activations per (listed sequence, token), independent of where the rows go.
struct StepData {
  std::vector<test::Activations> per_seq;  // [listed sequence]: [n_new][qkv_cols]
};
StepData make_step_data(const OpCase& c, const std::vector<SeqStep>& step, std::mt19937_64& rng) {
  StepData d;
  for (const SeqStep& s : step)
    d.per_seq.push_back(test::random_activations(static_cast<size_t>(s.n_new) * c.qkv_cols(), c.act, rng));
  return d;
}

// Row of the first token of each listed sequence under the given order.
std::vector<int64_t> token_offsets(const std::vector<SeqStep>& step, RowOrder order) {
  std::vector<size_t> by_row(step.size());
  std::iota(by_row.begin(), by_row.end(), 0);
  if (order == RowOrder::kernel) {
    std::stable_partition(by_row.begin(), by_row.end(), [&](size_t i) { return step[i].n_new == 1; });
  } else {
    std::reverse(by_row.begin(), by_row.end());
  }
  std::vector<int64_t> offsets(step.size());
  int64_t row = 0;
  for (size_t i : by_row) {
    offsets[i] = row;
    row += step[i].n_new;
  }
  return offsets;
}

// Both engines' state for one case: the CPU backend with its KvCache, the GPU op with its DeviceKvCache.
class Harness {
 public:
  explicit Harness(const OpCase& c, std::mt19937_64& rng)
      : c_(c), cpu_(test::op_test_threads()), tables_(make_tables(c.block_size, rng)),
        cpu_cache_(options(), 1, c.n_kv_heads, c.head_dim, cpu_),
        inv_freq_(cpu::rope_inv_freq(c.head_dim, kTheta, kLlama3Scaling)) {
    auto gpu_cache = DeviceKvCache::create(options(), 1, c.n_kv_heads, c.head_dim);
    EXPECT_TRUE(gpu_cache.ok()) << gpu_cache.status().to_string();
    if (gpu_cache.ok()) gpu_cache_ = std::make_unique<DeviceKvCache>(std::move(*gpu_cache));
    EXPECT_EQ(cudaStreamCreate(&stream_), cudaSuccess);
    auto step = CudaAttentionStep::create(stream_);
    EXPECT_TRUE(step.ok()) << step.status().to_string();
    if (step.ok()) step_ = std::move(*step);
    auto op = CudaAttention::create({.act = c.act, .n_q_heads = c.n_q_heads(), .n_kv_heads = c.n_kv_heads,
                                     .head_dim = c.head_dim, .rope_theta = kTheta, .rope_scaling = kLlama3Scaling});
    EXPECT_TRUE(op.ok()) << op.status().to_string();
    if (op.ok()) op_ = std::move(*op);
  }
  ~Harness() {
    step_.reset();
    if (stream_) cudaStreamDestroy(stream_);
  }
  bool ready() const { return gpu_cache_ && step_ && op_; }

  struct Outputs {
    std::vector<float> gpu, cpu;  // [n_rows][out_cols]
    bool in_place = false;
  };

  // Runs one step on both sides with the rows placed by `order`.
  Outputs run(const std::vector<SeqStep>& step, const StepData& data, RowOrder order) {
    const std::vector<int64_t> offsets = token_offsets(step, order);
    int64_t n_rows = 0;
    for (const SeqStep& s : step) n_rows += s.n_new;
    std::vector<AttentionSequence> seqs;
    std::vector<uint16_t> bits(static_cast<size_t>(n_rows) * c_.qkv_cols());
    std::vector<float> values(bits.size());
    std::vector<int32_t> positions(static_cast<size_t>(n_rows));
    for (size_t i = 0; i < step.size(); ++i) {
      const SeqStep& s = step[i];
      seqs.push_back({.n_new = s.n_new, .start_pos = s.start_pos, .token_offset = offsets[i],
                      .block_table = tables_.ids[s.seq].data()});
      const size_t begin = static_cast<size_t>(offsets[i]) * c_.qkv_cols();
      std::copy(data.per_seq[i].bits.begin(), data.per_seq[i].bits.end(), bits.begin() + begin);
      std::copy(data.per_seq[i].values.begin(), data.per_seq[i].values.end(), values.begin() + begin);
      for (int t = 0; t < s.n_new; ++t) positions[offsets[i] + t] = s.start_pos + t;
    }
    Outputs o;
    o.cpu = cpu_step(seqs, values, positions);
    o.gpu = gpu_step(seqs, bits, n_rows, o.in_place);
    return o;
  }

  // Every position [0, start_pos + n_new) of every listed sequence, every KV head: GPU bytes == CPU bytes.
  void expect_pools_equal(const std::vector<SeqStep>& step) {
    for (int which = 0; which < 2; ++which) {
      const KvPoolView& cpu_view = which == 0 ? cpu_cache_.k_pool(0) : cpu_cache_.v_pool(0);
      auto host = download_kv_pool(which == 0 ? gpu_cache_->k_pool(0) : gpu_cache_->v_pool(0));
      ASSERT_TRUE(host.ok()) << host.status().to_string();
      const KvPoolView gpu_view = host->view();
      const KvPoolLayout& l = cpu_view.layout;
      size_t bad_rows = 0, rows = 0;
      for (const SeqStep& s : step) {
        for (int pos = 0; pos < s.start_pos + s.n_new; ++pos) {
          for (int h = 0; h < l.n_kv_heads; ++h) {
            const size_t row = l.row_index(tables_.ids[s.seq][pos / l.block_size], h, pos % l.block_size);
            bool same = std::memcmp(cpu_view.data + row * l.row_bytes(), gpu_view.data + row * l.row_bytes(),
                                    l.row_bytes()) == 0;
            if (kv_format_has_params(l.format))
              same = same && std::memcmp(cpu_view.params + row * 2, gpu_view.params + row * 2, 4) == 0;
            bad_rows += !same;
            ++rows;
          }
        }
      }
      EXPECT_EQ(bad_rows, 0u) << (which == 0 ? "K" : "V") << " pool: " << bad_rows << " of " << rows
                              << " rows differ from the CPU's";
    }
  }

  const DeviceKvCache& gpu_cache() const { return *gpu_cache_; }
  CudaAttentionStep& step() { return *step_; }
  CudaAttention& op() { return *op_; }
  const Tables& tables() const { return tables_; }

 private:
  KvCacheOptions options() const {
    return {.k_format = c_.k_format, .v_format = c_.v_format, .block_size = c_.block_size,
            .n_blocks = tables_.n_blocks};
  }

  std::vector<float> cpu_step(const std::vector<AttentionSequence>& seqs, std::vector<float> qkv,
                              const std::vector<int32_t>& positions) {
    const int64_t stride = c_.qkv_cols(), d = c_.head_dim;
    float* k = qkv.data() + static_cast<int64_t>(c_.n_q_heads()) * d;
    float* v = k + static_cast<int64_t>(c_.n_kv_heads) * d;
    cpu_.rope(qkv.data(), stride, c_.n_q_heads(), d, positions, inv_freq_.data());
    cpu_.rope(k, stride, c_.n_kv_heads, d, positions, inv_freq_.data());
    cpu_.kv_cache_write(k, v, stride, seqs, cpu_cache_.k_pool(0), cpu_cache_.v_pool(0));
    std::vector<float> out(positions.size() * c_.out_cols());
    cpu_.attention(qkv.data(), stride, c_.n_q_heads(), 1.0f / std::sqrt(static_cast<float>(d)), seqs,
                   cpu_cache_.k_pool(0), cpu_cache_.v_pool(0), out.data());
    return out;
  }

  std::vector<float> gpu_step(const std::vector<AttentionSequence>& seqs, const std::vector<uint16_t>& bits,
                              int64_t n_rows, bool& in_place) {
    cuda::DeviceBytes d_qkv = test::upload_bits(bits);
    cuda::DeviceBytes d_out = test::poisoned(static_cast<size_t>(n_rows) * c_.out_cols());
    Status st = step_->prepare(seqs, n_rows, gpu_cache_->k_pool(0).layout);
    EXPECT_TRUE(st.ok()) << st.to_string();
    const CudaAttentionLayer layer{.qkv = d_qkv.get(), .qkv_row_stride = c_.qkv_cols(), .out = d_out.get(),
                                   .k_pool = gpu_cache_->k_pool(0), .v_pool = gpu_cache_->v_pool(0)};
    in_place = op_->runs_in_place(*step_, layer);
    st = op_->run(*step_, layer);
    EXPECT_TRUE(st.ok()) << st.to_string();
    EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
    return test::download_act(d_out, static_cast<size_t>(n_rows) * c_.out_cols(), c_.act);
  }

  OpCase c_;
  CpuBackend cpu_;
  Tables tables_;
  KvCache cpu_cache_;
  std::vector<float> inv_freq_;
  std::unique_ptr<DeviceKvCache> gpu_cache_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CudaAttentionStep> step_;
  std::unique_ptr<CudaAttention> op_;
};

void check_case(const OpCase& c, uint64_t salt) {
  SCOPED_TRACE(describe(c));
  auto rng = test::make_rng(salt);
  Harness h(c, rng);
  ASSERT_TRUE(h.ready());
  for (size_t s = 0; s < kSteps.size(); ++s) {
    const StepData data = make_step_data(c, kSteps[s], rng);
    const Harness::Outputs o = h.run(kSteps[s], data, c.order);
    EXPECT_EQ(o.in_place, c.act == ActDtype::f16 && c.order == RowOrder::kernel) << "step " << s;
    EXPECT_EQ(test::count_non_finite(o.gpu), 0u) << "step " << s << ": unwritten (NaN) outputs";
    const double err = test::relative_frobenius_error(o.gpu, o.cpu);
    EXPECT_LT(err, tolerance(c.act)) << "step " << s;
    std::printf("  %s step %zu: rel err %.2e\n", describe(c).c_str(), s, err);
    h.expect_pools_equal(kSteps[s]);
  }
}

// GQA groups 1, 4, 8; head_dim 64 and 128; fp16 and bf16 activations; both row orders; block sizes 64 and 16;
// several K/V pairs (every pair is in EveryFormatPair below).
TEST(CudaAttentionOp, MixedBatchMatchesCpuBackend) {
  const OpCase cases[] = {
      {.n_kv_heads = 2, .group = 1, .head_dim = 128, .k_format = KvFormat::f16, .v_format = KvFormat::f16,
       .act = ActDtype::f16, .order = RowOrder::kernel},
      {.n_kv_heads = 2, .group = 4, .head_dim = 64, .k_format = KvFormat::int8, .v_format = KvFormat::int4,
       .act = ActDtype::bf16, .order = RowOrder::reversed},
      {.n_kv_heads = 1, .group = 8, .head_dim = 128, .k_format = KvFormat::fp8_e4m3, .v_format = KvFormat::int8,
       .act = ActDtype::f16, .order = RowOrder::reversed},
      {.n_kv_heads = 2, .group = 4, .head_dim = 128, .k_format = KvFormat::int4, .v_format = KvFormat::fp8_e4m3,
       .act = ActDtype::f16, .order = RowOrder::kernel},
      {.n_kv_heads = 4, .group = 8, .head_dim = 64, .k_format = KvFormat::bf16, .v_format = KvFormat::bf16,
       .act = ActDtype::bf16, .order = RowOrder::kernel},
      {.n_kv_heads = 2, .group = 4, .head_dim = 64, .block_size = 16, .k_format = KvFormat::f16,
       .v_format = KvFormat::int4, .act = ActDtype::f16, .order = RowOrder::reversed},
      {.n_kv_heads = 1, .group = 1, .head_dim = 64, .k_format = KvFormat::int4, .v_format = KvFormat::int4,
       .act = ActDtype::bf16, .order = RowOrder::reversed},
  };
  uint64_t salt = 700;
  for (const OpCase& c : cases) check_case(c, ++salt);
}

TEST(CudaAttentionOp, EveryFormatPair) {
  const KvFormat formats[] = {KvFormat::f16, KvFormat::bf16, KvFormat::fp8_e4m3, KvFormat::int8, KvFormat::int4};
  uint64_t salt = 750;
  for (KvFormat kf : formats)
    for (KvFormat vf : formats)
      check_case({.n_kv_heads = 2, .group = 4, .head_dim = 128, .k_format = kf, .v_format = vf}, ++salt);
}

// The same step with its rows in the kernels' order (the op runs in place) and reversed (it gathers into fp16
// staging and scatters back): the kernels see the same sorted batch, so outputs and caches are identical bits.
TEST(CudaAttentionOp, RowOrderDoesNotChangeTheBits) {
  auto rng = test::make_rng(790);
  const OpCase c{.n_kv_heads = 2, .group = 4, .head_dim = 128, .k_format = KvFormat::int8,
                 .v_format = KvFormat::int4};
  auto rng_tables = rng;  // both harnesses draw the same block tables
  Harness in_order(c, rng);
  Harness reversed(c, rng_tables);
  ASSERT_TRUE(in_order.ready() && reversed.ready());
  ASSERT_EQ(in_order.tables().ids, reversed.tables().ids);
  for (size_t s = 0; s < kSteps.size(); ++s) {
    const StepData data = make_step_data(c, kSteps[s], rng);
    const Harness::Outputs a = in_order.run(kSteps[s], data, RowOrder::kernel);
    const Harness::Outputs b = reversed.run(kSteps[s], data, RowOrder::reversed);
    EXPECT_TRUE(a.in_place);
    EXPECT_FALSE(b.in_place);
    // Map both outputs to (listed sequence, token) order before comparing.
    const std::vector<int64_t> oa = token_offsets(kSteps[s], RowOrder::kernel);
    const std::vector<int64_t> ob = token_offsets(kSteps[s], RowOrder::reversed);
    size_t differing = 0;
    for (size_t i = 0; i < kSteps[s].size(); ++i) {
      const size_t n = static_cast<size_t>(kSteps[s][i].n_new) * c.out_cols();
      differing += std::memcmp(a.gpu.data() + oa[i] * c.out_cols(), b.gpu.data() + ob[i] * c.out_cols(),
                               n * sizeof(float)) != 0;
    }
    EXPECT_EQ(differing, 0u) << "step " << s << ": sequences whose output depends on the row order";
    for (int which = 0; which < 2; ++which) {
      auto ka = download_kv_pool(which ? in_order.gpu_cache().v_pool(0) : in_order.gpu_cache().k_pool(0));
      auto kb = download_kv_pool(which ? reversed.gpu_cache().v_pool(0) : reversed.gpu_cache().k_pool(0));
      ASSERT_TRUE(ka.ok() && kb.ok());
      EXPECT_TRUE(ka->data() == kb->data() && ka->params() == kb->params()) << "step " << s << " pool " << which;
    }
  }
}

// Layout: the device pools have exactly the CPU KvCache's layouts and sizes.
TEST(CudaAttentionOp, DeviceKvCacheHasTheCpuLayout) {
  ThreadPool& pool = test::op_test_threads();
  CpuBackend cpu(pool);
  for (KvFormat kf : {KvFormat::int4, KvFormat::fp8_e4m3}) {
    const KvCacheOptions o{.k_format = kf, .v_format = KvFormat::int8, .block_size = 32, .n_blocks = 7};
    KvCache host(o, 3, 2, 128, cpu);
    auto dev = DeviceKvCache::create(o, 3, 2, 128);
    ASSERT_TRUE(dev.ok()) << dev.status().to_string();
    EXPECT_EQ(dev->bytes(), host.bytes());
    for (int64_t l = 0; l < 3; ++l) {
      for (int which = 0; which < 2; ++which) {
        const KvPoolLayout& a = which ? dev->v_pool(l).layout : dev->k_pool(l).layout;
        const KvPoolLayout& b = which ? host.v_pool(l).layout : host.k_pool(l).layout;
        EXPECT_EQ(a.n_blocks, b.n_blocks);
        EXPECT_EQ(a.block_size, b.block_size);
        EXPECT_EQ(a.n_kv_heads, b.n_kv_heads);
        EXPECT_EQ(a.head_dim, b.head_dim);
        EXPECT_EQ(a.format, b.format);
        EXPECT_EQ(a.data_bytes(), b.data_bytes());
        EXPECT_EQ(a.param_count(), b.param_count());
      }
    }
  }
  auto f32 = DeviceKvCache::create({.k_format = KvFormat::f32, .n_blocks = 4}, 1, 1, 64);
  ASSERT_FALSE(f32.ok());
  EXPECT_EQ(f32.status().code(), StatusCode::unsupported);
}

// Bad steps and layers fail with a Status before anything is launched.
TEST(CudaAttentionOp, RejectsBadInput) {
  auto rng = test::make_rng(791);
  const OpCase c{.n_kv_heads = 2, .group = 4, .head_dim = 64};
  Harness h(c, rng);
  ASSERT_TRUE(h.ready());
  const KvPoolLayout layout = h.gpu_cache().k_pool(0).layout;
  const std::vector<int32_t> good = {0, 1}, bad = {0, static_cast<int32_t>(layout.n_blocks)};
  auto expect_invalid = [&](std::vector<AttentionSequence> seqs, int64_t n_rows, const char* what) {
    const Status st = h.step().prepare(seqs, n_rows, layout);
    EXPECT_EQ(st.code(), StatusCode::invalid_argument) << what << ": " << st.to_string();
  };
  expect_invalid({{.n_new = 2, .start_pos = 100, .token_offset = 0, .block_table = bad.data()}}, 2,
                 "block id outside the pool");
  expect_invalid({{.n_new = 2, .start_pos = 0, .token_offset = 0, .block_table = good.data()},
                  {.n_new = 1, .start_pos = 5, .token_offset = 1, .block_table = good.data()}},
                 3, "row claimed twice");
  expect_invalid({{.n_new = 3, .start_pos = 0, .token_offset = 1, .block_table = good.data()}}, 3,
                 "rows outside the batch");
  expect_invalid({{.n_new = 1, .start_pos = 0, .token_offset = 0, .block_table = nullptr}}, 1, "no block table");

  auto head_dim_96 = CudaAttention::create({.n_q_heads = 8, .n_kv_heads = 2, .head_dim = 96});
  ASSERT_FALSE(head_dim_96.ok());
  EXPECT_EQ(head_dim_96.status().code(), StatusCode::unsupported);
  auto group_32 = CudaAttention::create({.n_q_heads = 32, .n_kv_heads = 1, .head_dim = 128});
  ASSERT_FALSE(group_32.ok());
  EXPECT_EQ(group_32.status().code(), StatusCode::unsupported);

  // A pool of another head count than the op's.
  auto other = DeviceKvCache::create({.block_size = 64, .n_blocks = layout.n_blocks}, 1, 1, 64);
  ASSERT_TRUE(other.ok());
  const AttentionSequence seq{.n_new = 1, .start_pos = 0, .token_offset = 0, .block_table = good.data()};
  ASSERT_TRUE(h.step().prepare(std::span(&seq, 1), 1, layout).ok());
  cuda::DeviceBytes qkv = test::poisoned(c.qkv_cols()), out = test::poisoned(c.out_cols());
  const Status st = h.op().run(h.step(), {.qkv = qkv.get(), .qkv_row_stride = c.qkv_cols(), .out = out.get(),
                                          .k_pool = other->k_pool(0), .v_pool = other->v_pool(0)});
  EXPECT_EQ(st.code(), StatusCode::invalid_argument) << st.to_string();
}

}  // namespace
}  // namespace mixserve
