// CPU paged attention. A work item is (sequence, tile of its new tokens, KV head); threads take whole items, so
// every output row is computed in the same order whatever the thread count or the batch around it. Per item,
// the KV blocks are visited in position order: each block's K and V rows are dequantized once into scratch,
// then every (token, query head of the group) row folds them in with an online softmax in f32.
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/check.h"

namespace mixserve::cpu {
namespace {

// Query tokens of one prefill chunk that share one pass over the KV blocks: each K/V row is dequantized once
// per tile and reused by tile x group query rows. Decode steps are tiles of one token.
constexpr int64_t kQueryTile = 16;

void check_pools(const KvPoolView& k_pool, const KvPoolView& v_pool) {
  const KvPoolLayout& k = k_pool.layout;
  const KvPoolLayout& v = v_pool.layout;
  // One block table addresses both pools, so they must agree on everything but the format.
  MIXSERVE_CHECK_EQ(k.block_size, v.block_size);
  MIXSERVE_CHECK_EQ(k.n_kv_heads, v.n_kv_heads);
  MIXSERVE_CHECK_EQ(k.head_dim, v.head_dim);
  MIXSERVE_CHECK(k.n_kv_heads > 0 && k.head_dim > 0 && k.block_size > 0);
}

// Work item of paged_attention: new tokens [token_begin, token_end) of one sequence, against one KV head and
// all the query heads of its group.
struct WorkItem {
  int64_t seq;
  int64_t token_begin;
  int64_t token_end;
  int kv_head;
};

// Per-thread buffers, allocated once per chunk of work items.
struct Scratch {
  std::vector<float> k;       // [block_size][head_dim] dequantized K rows of the current block
  std::vector<float> v;       // [block_size][head_dim]
  std::vector<float> scores;  // [block_size]
  std::vector<float> acc;     // [tile rows][head_dim] unnormalized output
  std::vector<float> m;       // [tile rows] running max of the scores
  std::vector<float> l;       // [tile rows] running sum of exp(score - m)
};

// Eight independent partial sums: a fixed summation order (so results do not depend on threading) that the
// compiler can map onto SIMD lanes.
float dot(const float* __restrict a, const float* __restrict b, int n) {
  float part[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) part[j] += a[i + j] * b[i + j];
  }
  for (; i < n; ++i) part[0] += a[i] * b[i];
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// y += a * x. Blocks of 8 with a fixed inner trip count: at -O2 GCC only vectorizes loops it needs no
// epilogue for, and head_dim is a runtime value.
void axpy(float a, const float* __restrict x, float* __restrict y, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) y[i + j] += a * x[i + j];
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

void scale_in_place(float a, float* y, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) y[i + j] *= a;
  }
  for (; i < n; ++i) y[i] *= a;
}

// Online softmax step of one query row over n keys: folds scores and values into (m, l, acc).
void attend_block(const float* q, const float* k, const float* v, int n, int d, float softmax_scale,
                  float* scores, float& m, float& l, float* acc) {
  float block_max = -std::numeric_limits<float>::infinity();
  for (int j = 0; j < n; ++j) {
    scores[j] = dot(q, k + static_cast<size_t>(j) * d, d) * softmax_scale;
    block_max = std::max(block_max, scores[j]);
  }
  const float m_new = std::max(m, block_max);
  if (m_new != m) {
    const float correction = std::exp(m - m_new);  // 0 on the first block, where m = -inf
    l *= correction;
    scale_in_place(correction, acc, d);
    m = m_new;
  }
  for (int j = 0; j < n; ++j) {
    const float p = std::exp(scores[j] - m);
    l += p;
    axpy(p, v + static_cast<size_t>(j) * d, acc, d);
  }
}

void run_work_item(const PagedAttentionParams& p, const WorkItem& w, Scratch& s) {
  const KvPoolLayout& layout = p.k_pool.layout;
  const int d = layout.head_dim;
  const int bs = layout.block_size;
  const int group = p.n_q_heads / layout.n_kv_heads;
  const PagedSequence& seq = p.sequences[w.seq];
  const int64_t n_tokens = w.token_end - w.token_begin;
  const int64_t n_rows = n_tokens * group;  // row r: token r / group, query head kv_head * group + r % group

  std::fill_n(s.acc.begin(), n_rows * d, 0.0f);
  std::fill_n(s.m.begin(), n_rows, -std::numeric_limits<float>::infinity());
  std::fill_n(s.l.begin(), n_rows, 0.0f);

  const int64_t kv_end = seq.start_pos + w.token_end;  // the last token of the tile sees [0, kv_end)
  for (int64_t b0 = 0; b0 < kv_end; b0 += bs) {
    const int64_t block = seq.block_table[b0 / bs];
    const int n = static_cast<int>(std::min<int64_t>(bs, kv_end - b0));
    for (int j = 0; j < n; ++j) {
      kv_read_row(p.k_pool, block, w.kv_head, j, s.k.data() + static_cast<size_t>(j) * d);
      kv_read_row(p.v_pool, block, w.kv_head, j, s.v.data() + static_cast<size_t>(j) * d);
    }
    for (int64_t t = 0; t < n_tokens; ++t) {
      const int64_t pos = seq.start_pos + w.token_begin + t;
      const int64_t n_visible = std::min<int64_t>(n, pos + 1 - b0);  // causal mask inside the block
      if (n_visible <= 0) continue;
      const float* q_row = p.q + (seq.token_offset + w.token_begin + t) * p.q_row_stride;
      for (int g = 0; g < group; ++g) {
        const int64_t r = t * group + g;
        const float* q = q_row + static_cast<size_t>(w.kv_head * group + g) * d;
        attend_block(q, s.k.data(), s.v.data(), static_cast<int>(n_visible), d, p.softmax_scale,
                     s.scores.data(), s.m[r], s.l[r], s.acc.data() + r * d);
      }
    }
  }

  for (int64_t t = 0; t < n_tokens; ++t) {
    float* out_row = p.out + (seq.token_offset + w.token_begin + t) * p.n_q_heads * d;
    for (int g = 0; g < group; ++g) {
      const int64_t r = t * group + g;
      const float inv_l = 1.0f / s.l[r];
      float* out = out_row + static_cast<size_t>(w.kv_head * group + g) * d;
      for (int i = 0; i < d; ++i) out[i] = s.acc[r * d + i] * inv_l;
    }
  }
}

}  // namespace

void kv_cache_write(const KvCacheWriteParams& p, ThreadPool& pool) {
  check_pools(p.k_pool, p.v_pool);
  const KvPoolLayout& layout = p.k_pool.layout;
  const int bs = layout.block_size;
  const int d = layout.head_dim;
  MIXSERVE_CHECK_GE(p.row_stride, static_cast<int64_t>(layout.n_kv_heads) * d);

  // seq_begin[i]: index of sequence i's first token in the flattened list of all new tokens.
  std::vector<int64_t> seq_begin(p.sequences.size() + 1, 0);
  for (size_t i = 0; i < p.sequences.size(); ++i) seq_begin[i + 1] = seq_begin[i] + p.sequences[i].n_new;

  pool.parallel_for(seq_begin.back(), 16, [&](int64_t begin, int64_t end) {
    size_t i = std::upper_bound(seq_begin.begin(), seq_begin.end(), begin) - seq_begin.begin() - 1;
    for (int64_t flat = begin; flat < end; ++flat) {
      while (flat >= seq_begin[i + 1]) ++i;
      const PagedSequence& seq = p.sequences[i];
      const int64_t t = flat - seq_begin[i];
      const int64_t pos = seq.start_pos + t;
      const int64_t block = seq.block_table[pos / bs];
      const int slot = static_cast<int>(pos % bs);
      const int64_t row = seq.token_offset + t;
      for (int h = 0; h < layout.n_kv_heads; ++h) {
        kv_write_row(p.k_pool, block, h, slot, p.k + row * p.row_stride + static_cast<int64_t>(h) * d);
        kv_write_row(p.v_pool, block, h, slot, p.v + row * p.row_stride + static_cast<int64_t>(h) * d);
      }
    }
  });
}

void paged_attention(const PagedAttentionParams& p, ThreadPool& pool) {
  check_pools(p.k_pool, p.v_pool);
  const KvPoolLayout& layout = p.k_pool.layout;
  const int d = layout.head_dim;
  MIXSERVE_CHECK(p.n_q_heads > 0 && p.n_q_heads % layout.n_kv_heads == 0);
  MIXSERVE_CHECK_GE(p.q_row_stride, static_cast<int64_t>(p.n_q_heads) * d);
  const int group = p.n_q_heads / layout.n_kv_heads;

  std::vector<WorkItem> items;
  for (size_t i = 0; i < p.sequences.size(); ++i) {
    for (int64_t t = 0; t < p.sequences[i].n_new; t += kQueryTile) {
      const int64_t t_end = std::min(p.sequences[i].n_new, t + kQueryTile);
      for (int h = 0; h < layout.n_kv_heads; ++h) items.push_back({static_cast<int64_t>(i), t, t_end, h});
    }
  }

  pool.parallel_for(static_cast<int64_t>(items.size()), 1, [&](int64_t begin, int64_t end) {
    Scratch s;
    s.k.resize(static_cast<size_t>(layout.block_size) * d);
    s.v.resize(static_cast<size_t>(layout.block_size) * d);
    s.scores.resize(layout.block_size);
    s.acc.resize(static_cast<size_t>(kQueryTile) * group * d);
    s.m.resize(static_cast<size_t>(kQueryTile) * group);
    s.l.resize(static_cast<size_t>(kQueryTile) * group);
    for (int64_t i = begin; i < end; ++i) run_work_item(p, items[i], s);
  });
}

}  // namespace mixserve::cpu
