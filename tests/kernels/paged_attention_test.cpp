// Paged attention and the KV cache write, checked against an independent fp64 causal attention over
// contiguous arrays.
#include "kernels/cpu/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/float_convert.h"
#include "test_support.h"

namespace mixserve::cpu {
namespace {

struct SeqSpec {
  int64_t start_pos;  // tokens already in the cache (written by an earlier kv_cache_write)
  int64_t n_new;      // query tokens of this step
};

struct AttnCase {
  int block_size = 16;
  int n_kv_heads = 2;
  int group = 1;
  int head_dim = 64;
  KvFormat k_format = KvFormat::f16;
  KvFormat v_format = KvFormat::f16;
  std::vector<SeqSpec> seqs;
};

// One step's inputs, a paged cache filled through kv_cache_write with shuffled block ids, and the fp64
// reference. Data: normal(0, 1) for Q, K and V.
class AttnFixture {
 public:
  AttnFixture(const AttnCase& c, uint64_t salt) : c_(c), n_q_heads_(c.group * c.n_kv_heads) {
    auto rng = test::make_rng(salt);
    const int d = c.head_dim;
    int64_t n_blocks = 3;  // a few spare blocks stay unused
    for (const SeqSpec& s : c.seqs) {
      kv_begin_.push_back(n_kv_rows_);
      q_begin_.push_back(n_q_rows_);
      n_kv_rows_ += s.start_pos + s.n_new;
      n_q_rows_ += s.n_new;
      n_blocks += (s.start_pos + s.n_new + c.block_size - 1) / c.block_size;
    }
    kv_ = test::random_normal(n_kv_rows_ * kv_row_floats(), rng);  // [row][K, V][n_kv_heads][d]
    q_ = test::random_normal(n_q_rows_ * q_row_floats(), rng);     // [row][n_q_heads + 1][d]
    std::vector<int32_t> ids(n_blocks);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    size_t next = 0;
    for (const SeqSpec& s : c.seqs) {
      const int64_t n = (s.start_pos + s.n_new + c.block_size - 1) / c.block_size;
      tables_.emplace_back(ids.begin() + next, ids.begin() + next + n);
      next += n;
    }
    k_pool_ = make_pool(c.k_format, n_blocks, k_storage_, k_params_);
    v_pool_ = make_pool(c.v_format, n_blocks, v_storage_, v_params_);
    // The earlier context first, then this step's tokens, as the engine does across steps.
    std::vector<PagedSequence> context, step;
    for (size_t i = 0; i < c.seqs.size(); ++i) {
      context.push_back({c.seqs[i].start_pos, 0, kv_begin_[i], tables_[i].data()});
      step.push_back({c.seqs[i].n_new, c.seqs[i].start_pos, kv_begin_[i] + c.seqs[i].start_pos, tables_[i].data()});
    }
    for (const auto& seqs : {context, step}) {
      kv_cache_write({.k = kv_.data(), .v = kv_.data() + c.n_kv_heads * d, .row_stride = kv_row_floats(),
                      .sequences = seqs, .k_pool = k_pool_, .v_pool = v_pool_}, pool());
    }
  }

  static ThreadPool& pool() {
    static ThreadPool p(2);
    return p;
  }

  // Runs paged_attention on a poisoned output: [n_q_rows][n_q_heads][head_dim].
  std::vector<float> run(ThreadPool& threads) const {
    std::vector<PagedSequence> seqs;
    for (size_t i = 0; i < c_.seqs.size(); ++i)
      seqs.push_back({c_.seqs[i].n_new, c_.seqs[i].start_pos, q_begin_[i], tables_[i].data()});
    return attend(seqs, n_q_rows_, threads);
  }
  std::vector<float> run() const { return run(pool()); }
  // Only the last new token of each sequence, as a decode step: [n_seqs][n_q_heads][head_dim].
  std::vector<float> run_last_tokens() const {
    std::vector<PagedSequence> seqs;
    for (size_t i = 0; i < c_.seqs.size(); ++i) {
      const int64_t last = c_.seqs[i].n_new - 1;
      seqs.push_back({1, c_.seqs[i].start_pos + last, q_begin_[i] + last, tables_[i].data()});
    }
    std::vector<float> out = attend(seqs, n_q_rows_, pool());
    // attend writes each decode at its token_offset row; gather those rows.
    std::vector<float> last_rows;
    const int64_t row = n_q_heads_ * c_.head_dim;
    for (const PagedSequence& s : seqs)
      last_rows.insert(last_rows.end(), out.begin() + s.token_offset * row, out.begin() + (s.token_offset + 1) * row);
    return last_rows;
  }
  // Row index (into run()'s output) of each sequence's last new token.
  int64_t last_row(size_t seq) const { return q_begin_[seq] + c_.seqs[seq].n_new - 1; }

  // Every position reads back as its input rounded to fp16 (f16 pools); blocks no table uses keep their poison.
  void expect_cache_holds_inputs() const {
    const int d = c_.head_dim;
    std::vector<float> k(d), v(d);
    std::vector<bool> used(k_pool_.layout.n_blocks, false);
    for (size_t i = 0; i < c_.seqs.size(); ++i) {
      for (int32_t b : tables_[i]) used[b] = true;
      for (int64_t pos = 0; pos < c_.seqs[i].start_pos + c_.seqs[i].n_new; ++pos) {
        for (int h = 0; h < c_.n_kv_heads; ++h) {
          kv_read_row(k_pool_, tables_[i][pos / c_.block_size], h, pos % c_.block_size, k.data());
          kv_read_row(v_pool_, tables_[i][pos / c_.block_size], h, pos % c_.block_size, v.data());
          const float* row = kv_.data() + (kv_begin_[i] + pos) * kv_row_floats() + h * d;
          for (int x = 0; x < d; ++x) {
            ASSERT_EQ(k[x], round_to_fp16(row[x])) << "seq " << i << " pos " << pos << " head " << h;
            ASSERT_EQ(v[x], round_to_fp16(row[c_.n_kv_heads * d + x])) << "seq " << i << " pos " << pos;
          }
        }
      }
    }
    const size_t block_bytes = k_pool_.layout.data_bytes() / k_pool_.layout.n_blocks;
    for (int64_t b = 0; b < k_pool_.layout.n_blocks; ++b) {
      if (used[b]) continue;
      for (size_t x = 0; x < block_bytes; ++x) {
        ASSERT_EQ(k_storage_[b * block_bytes + x], 0xFF) << "unused block " << b;
        ASSERT_EQ(v_storage_[b * block_bytes + x], 0xFF) << "unused block " << b;
      }
    }
  }

  // fp64 causal GQA attention over contiguous K and V: the inputs as given, or what the cache holds.
  std::vector<double> reference(bool dequantized) const {
    const int d = c_.head_dim;
    std::vector<double> out(n_q_rows_ * n_q_heads_ * d);
    std::vector<float> k(d), v(d);
    for (size_t i = 0; i < c_.seqs.size(); ++i) {
      const int64_t n_kv = c_.seqs[i].start_pos + c_.seqs[i].n_new;
      std::vector<double> keys(n_kv * c_.n_kv_heads * d), values(keys.size());  // [pos][head][d]
      for (int64_t pos = 0; pos < n_kv; ++pos) {
        for (int h = 0; h < c_.n_kv_heads; ++h) {
          const float* row = kv_.data() + (kv_begin_[i] + pos) * kv_row_floats() + h * d;
          std::copy(row, row + d, k.begin());
          std::copy(row + c_.n_kv_heads * d, row + (c_.n_kv_heads + 1) * d, v.begin());
          if (dequantized) {
            const int32_t block = tables_[i][pos / c_.block_size];
            kv_read_row(k_pool_, block, h, pos % c_.block_size, k.data());
            kv_read_row(v_pool_, block, h, pos % c_.block_size, v.data());
          }
          std::copy(k.begin(), k.end(), keys.begin() + (pos * c_.n_kv_heads + h) * d);
          std::copy(v.begin(), v.end(), values.begin() + (pos * c_.n_kv_heads + h) * d);
        }
      }
      for (int64_t t = 0; t < c_.seqs[i].n_new; ++t) {
        const int64_t n_visible = c_.seqs[i].start_pos + t + 1;
        for (int h = 0; h < n_q_heads_; ++h) {
          const float* q = q_.data() + (q_begin_[i] + t) * q_row_floats() + h * d;
          const int kv_head = h / c_.group;
          std::vector<double> w(n_visible);
          for (int64_t j = 0; j < n_visible; ++j) {
            double s = 0;
            for (int x = 0; x < d; ++x) s += double(q[x]) * keys[(j * c_.n_kv_heads + kv_head) * d + x];
            w[j] = s / std::sqrt(double(d));
          }
          const double m = *std::max_element(w.begin(), w.end());
          double sum = 0;
          for (double& x : w) sum += x = std::exp(x - m);
          double* o = out.data() + ((q_begin_[i] + t) * n_q_heads_ + h) * d;
          for (int64_t j = 0; j < n_visible; ++j)
            for (int x = 0; x < d; ++x) o[x] += w[j] / sum * values[(j * c_.n_kv_heads + kv_head) * d + x];
        }
      }
    }
    return out;
  }

  double error(const std::vector<float>& out, bool dequantized) const {
    return test::relative_frobenius_error(out.data(), reference(dequantized).data(), out.size());
  }

 private:
  std::vector<float> attend(const std::vector<PagedSequence>& seqs, int64_t n_rows, ThreadPool& threads) const {
    std::vector<float> out(n_rows * n_q_heads_ * c_.head_dim, NAN);
    paged_attention({.q = q_.data(), .q_row_stride = q_row_floats(), .out = out.data(), .n_q_heads = n_q_heads_,
                     .softmax_scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim)), .sequences = seqs,
                     .k_pool = k_pool_, .v_pool = v_pool_}, threads);
    return out;
  }
  int64_t kv_row_floats() const { return 2 * c_.n_kv_heads * c_.head_dim; }
  int64_t q_row_floats() const { return (n_q_heads_ + 1) * c_.head_dim; }  // padded: a strided Q
  KvPoolView make_pool(KvFormat f, int64_t n_blocks, std::vector<uint8_t>& data, std::vector<uint16_t>& params) {
    const KvPoolLayout layout{.n_blocks = n_blocks, .block_size = c_.block_size, .n_kv_heads = c_.n_kv_heads,
                              .head_dim = c_.head_dim, .format = f};
    data.assign(layout.data_bytes(), 0xFF);  // NaN in every float format: a missed write shows up
    params.assign(layout.param_count(), 0x7E00);
    return {.layout = layout, .data = data.data(), .params = params.empty() ? nullptr : params.data(),
            .fp8_scale = f == KvFormat::fp8_e4m3 ? 0.5f : 1.0f};
  }

  AttnCase c_;
  int n_q_heads_;
  int64_t n_kv_rows_ = 0, n_q_rows_ = 0;
  std::vector<int64_t> kv_begin_, q_begin_;
  std::vector<float> kv_, q_;
  std::vector<std::vector<int32_t>> tables_;
  std::vector<uint8_t> k_storage_, v_storage_;
  std::vector<uint16_t> k_params_, v_params_;
  KvPoolView k_pool_, v_pool_;
};

bool all_finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

// Lengths around the block boundaries, fresh prefills, decodes and chunks that continue earlier context.
std::vector<SeqSpec> boundary_batch(int bs) {
  return {{0, 1}, {0, bs - 1}, {0, bs}, {0, bs + 1}, {bs - 1, 1},
          {bs, 1}, {3, bs - 2}, {bs / 2, bs + 1}, {299, 1}, {200, 37}};
}

TEST(PagedAttention, Fp16MatchesFp64AcrossShapes) {
  for (int bs : {16, 64}) {
    for (int group : {1, 2, 4, 5, 7, 8}) {
      for (int head_dim : {64, 128}) {
        SCOPED_TRACE(testing::Message() << "block " << bs << " group " << group << " head_dim " << head_dim);
        AttnFixture f({.block_size = bs, .group = group, .head_dim = head_dim, .seqs = boundary_batch(bs)},
                      bs * 100 + group * 10 + head_dim);
        const auto out = f.run();
        ASSERT_TRUE(all_finite(out));
        EXPECT_LT(f.error(out, true), 1e-5);
        EXPECT_LT(f.error(out, false), 5e-3);
      }
    }
  }
}

// A decode of a 4096-token sequence, a chunk continuing 1000 tokens of context and a fresh prefill together.
TEST(PagedAttention, MixedBatchWithLongSequence) {
  for (KvFormat format : {KvFormat::f16, KvFormat::bf16}) {
    SCOPED_TRACE(kv_format_name(format));
    AttnFixture f({.block_size = 64, .n_kv_heads = 2, .group = 4, .head_dim = 128, .k_format = format,
                   .v_format = format, .seqs = {{4095, 1}, {1000, 24}, {0, 100}}}, 11);
    const auto out = f.run();
    ASSERT_TRUE(all_finite(out));
    EXPECT_LT(f.error(out, true), 1e-5);
    EXPECT_LT(f.error(out, false), 5e-3);
  }
}

// Error against the unquantized inputs, relative Frobenius, measured on normal(0, 1) data with head_dim 64,
// group 4, block 16 and contexts up to 300 tokens (20 seeds; the other of K and V in fp16):
//   format   K only: mean / max    V only: mean / max    bound per format
//   fp16     2.6e-4 / 2.8e-4       2.6e-4 / 2.7e-4       4e-4
//   bf16     1.3e-3 / 1.4e-3       1.7e-3 / 1.7e-3       2.5e-3
//   fp8      2.0e-2 / 2.3e-2       2.7e-2 / 2.8e-2       4e-2   (pool scale 0.5)
//   int8     3.9e-3 / 4.2e-3       5.3e-3 / 5.7e-3       8e-3
//   int4     6.6e-2 / 7.1e-2       8.9e-2 / 9.4e-2       1.4e-1
// K and V errors are independent and add in quadrature (int4 K + int4 V measured 1.15e-1), so a pair's bound
// is sqrt(bound_k^2 + bound_v^2): about 1.4x to 2x above every pair's measured worst of 5 seeds.
double format_bound(KvFormat f) {
  switch (f) {
    case KvFormat::f16: return 4e-4;
    case KvFormat::bf16: return 2.5e-3;
    case KvFormat::fp8_e4m3: return 4e-2;
    case KvFormat::int8: return 8e-3;
    case KvFormat::int4: return 1.4e-1;
  }
  return 0;
}
double pair_bound(KvFormat k, KvFormat v) { return std::hypot(format_bound(k), format_bound(v)); }

TEST(PagedAttention, EveryFormatPair) {
  const KvFormat formats[] = {KvFormat::f16, KvFormat::bf16, KvFormat::fp8_e4m3, KvFormat::int8, KvFormat::int4};
  for (KvFormat kf : formats) {
    for (KvFormat vf : formats) {
      SCOPED_TRACE(testing::Message() << "K " << kv_format_name(kf) << " V " << kv_format_name(vf));
      AttnFixture f({.block_size = 16, .group = 4, .head_dim = 64, .k_format = kf, .v_format = vf,
                     .seqs = {{299, 1}, {100, 20}, {0, 40}, {17, 1}}}, 1000 + int(kf) * 10 + int(vf));
      const auto out = f.run();
      ASSERT_TRUE(all_finite(out));
      EXPECT_LT(f.error(out, true), 1e-5);
      EXPECT_LT(f.error(out, false), pair_bound(kf, vf));
    }
  }
}

// Same input, same bits: with the pool reused, and with a different number of threads.
TEST(PagedAttention, Deterministic) {
  AttnFixture f({.block_size = 16, .group = 5, .head_dim = 64, .k_format = KvFormat::int8,
                 .v_format = KvFormat::int4, .seqs = boundary_batch(16)}, 21);
  ThreadPool one(1), three(3);
  const auto a = f.run(), b = f.run(), c = f.run(one), d = f.run(three);
  ASSERT_TRUE(all_finite(a));
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(a.data(), d.data(), a.size() * sizeof(float)), 0);
}

// A decode step computes its row exactly as a prefill of the same tokens computes its last row.
TEST(PagedAttention, DecodeEqualsLastRowOfPrefill) {
  AttnFixture f({.block_size = 16, .group = 4, .head_dim = 64, .k_format = KvFormat::fp8_e4m3,
                 .v_format = KvFormat::int8, .seqs = {{0, 1}, {0, 16}, {0, 17}, {5, 130}, {40, 16}}}, 31);
  const auto full = f.run(), last = f.run_last_tokens();
  ASSERT_TRUE(all_finite(full) && all_finite(last));
  const size_t row = last.size() / 5;
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(std::memcmp(last.data() + i * row, full.data() + f.last_row(i) * row, row * sizeof(float)), 0) << i;
  }
}

// kv_cache_write puts each token of each sequence at its block-table slot and writes nothing else.
TEST(KvCacheWrite, FillsTheSlotsOfTheBlockTables) {
  for (int bs : {16, 64}) {
    SCOPED_TRACE(bs);
    AttnFixture f({.block_size = bs, .n_kv_heads = 3, .head_dim = 64, .seqs = boundary_batch(bs)}, 41 + bs);
    f.expect_cache_holds_inputs();
  }
}

}  // namespace
}  // namespace mixserve::cpu
