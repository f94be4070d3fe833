#include "kernels/cpu/linear.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/check.h"

namespace mixserve::cpu {
namespace {

// Four floats in one value (one SSE register, the x86-64 baseline): GCC and Clang keep these in registers and
// emit packed multiply-adds. Plain float arrays as accumulators were vectorized but went through the stack.
using Vec4 = float __attribute__((vector_size(16)));
constexpr int kLanes = 8;  // partial sums per dot product: two Vec4
// Weight rows are dequantized a block at a time into a buffer of about this many floats (64 KiB: L2-resident)
// and reused by every row of x.
constexpr int64_t kBlockFloats = 16384;
// Below this many multiply-adds a chunk is not worth handing to another thread.
constexpr int64_t kMinChunkMacs = 1 << 16;

inline Vec4 load4(const float* p) {
  Vec4 v;
  std::memcpy(&v, p, sizeof v);  // unaligned load
  return v;
}

inline float sum_lanes(Vec4 lo, Vec4 hi) {
  const Vec4 v = lo + hi;
  return (v[0] + v[1]) + (v[2] + v[3]);
}

// out[r] = dot(x, w + r * k) for the 4 rows r of w: each x load feeds four rows. Each row keeps eight partial
// sums (two Vec4), combined at the end; f32 throughout.
void dot_1x4(const float* x, const float* w, int64_t k, float* out) {
  const float* w0 = w;          // [k]
  const float* w1 = w + k;      // [k]
  const float* w2 = w + 2 * k;  // [k]
  const float* w3 = w + 3 * k;  // [k]
  Vec4 a0 = {}, b0 = {}, a1 = {}, b1 = {}, a2 = {}, b2 = {}, a3 = {}, b3 = {};
  int64_t c = 0;
  for (; c + kLanes <= k; c += kLanes) {
    const Vec4 xa = load4(x + c), xb = load4(x + c + 4);
    a0 += xa * load4(w0 + c), b0 += xb * load4(w0 + c + 4);
    a1 += xa * load4(w1 + c), b1 += xb * load4(w1 + c + 4);
    a2 += xa * load4(w2 + c), b2 += xb * load4(w2 + c + 4);
    a3 += xa * load4(w3 + c), b3 += xb * load4(w3 + c + 4);
  }
  float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
  for (; c < k; ++c) {
    t0 += x[c] * w0[c];
    t1 += x[c] * w1[c];
    t2 += x[c] * w2[c];
    t3 += x[c] * w3[c];
  }
  out[0] = sum_lanes(a0, b0) + t0;
  out[1] = sum_lanes(a1, b1) + t1;
  out[2] = sum_lanes(a2, b2) + t2;
  out[3] = sum_lanes(a3, b3) + t3;
}

float dot_1x1(const float* x, const float* w, int64_t k) {
  Vec4 a = {}, b = {};
  int64_t c = 0;
  for (; c + kLanes <= k; c += kLanes) {
    a += load4(x + c) * load4(w + c);
    b += load4(x + c + 4) * load4(w + c + 4);
  }
  float tail = 0;
  for (; c < k; ++c) tail += x[c] * w[c];
  return sum_lanes(a, b) + tail;
}

// y[i_begin:i_end, row_begin:row_end] from the block's f32 weights w [row_end - row_begin][k].
void multiply_block(const LinearParams& p, const float* w, int64_t row_begin, int64_t row_end, int64_t i_begin,
                    int64_t i_end) {
  const int64_t k = p.w->k;
  const int64_t n = p.w->n;
  for (int64_t i = i_begin; i < i_end; ++i) {
    const float* x = p.x + i * k;  // [k]
    float* y = p.y + i * n;        // [n]
    int64_t r = row_begin;
    for (; r + 4 <= row_end; r += 4) dot_1x4(x, w + (r - row_begin) * k, k, y + r);
    for (; r < row_end; ++r) y[r] = dot_1x1(x, w + (r - row_begin) * k, k);
    if (p.bias)
      for (r = row_begin; r < row_end; ++r) y[r] += p.bias[r];
  }
}

// Work splits into tasks of (block of weight rows, tile of x rows). Tiles of x are only cut when n alone
// gives too few blocks to occupy the pool (small n, long prefill); otherwise a task covers all m rows.
struct TaskGrid {
  int64_t rows_per_block, n_blocks, m_tile, n_m_tiles;
};

TaskGrid plan(int64_t m, int64_t n, int64_t k, int n_threads) {
  TaskGrid g;
  g.rows_per_block = std::clamp<int64_t>(kBlockFloats / k / 4 * 4, 4, 64);  // a multiple of 4 (dot_1x4)
  g.n_blocks = (n + g.rows_per_block - 1) / g.rows_per_block;
  const int64_t wanted_tasks = 4 * static_cast<int64_t>(n_threads);
  const int64_t max_tiles = std::max<int64_t>(1, m / 8);  // tiles of at least 8 rows amortize re-dequantizing
  const int64_t tiles = std::min(max_tiles, (wanted_tasks + g.n_blocks - 1) / g.n_blocks);
  g.m_tile = (m + tiles - 1) / tiles;
  g.n_m_tiles = (m + g.m_tile - 1) / g.m_tile;
  return g;
}

// The linear op for f32 activations (every format but fp8 takes x as it is).
void linear_f32_activations(const LinearParams& p, ThreadPool& pool) {
  const QuantizedWeight& w = *p.w;
  const int64_t k = w.k;
  const TaskGrid g = plan(p.m, w.n, k, pool.size());
  const int64_t min_chunk = std::max<int64_t>(1, kMinChunkMacs / (g.m_tile * k * g.rows_per_block));
  const bool dense_f32 = w.format == WeightFormat::f32;  // used in place, nothing to convert
  // Task t is block t / n_m_tiles, tile t % n_m_tiles: a chunk's consecutive tasks share their block.
  pool.parallel_for(g.n_blocks * g.n_m_tiles, min_chunk, [&](int64_t task_begin, int64_t task_end) {
    std::vector<float> buffer(dense_f32 ? 0 : static_cast<size_t>(g.rows_per_block * k));  // one per chunk
    int64_t buffered_block = -1;
    for (int64_t t = task_begin; t < task_end; ++t) {
      const int64_t b = t / g.n_m_tiles;
      const int64_t row_begin = b * g.rows_per_block;
      const int64_t row_end = std::min(w.n, row_begin + g.rows_per_block);
      const float* rows;  // [row_end - row_begin][k]
      if (dense_f32) {
        rows = reinterpret_cast<const float*>(w.data.data()) + row_begin * k;
      } else {
        if (b != buffered_block) dequantize_rows(w, row_begin, row_end, buffer.data());
        buffered_block = b;
        rows = buffer.data();
      }
      const int64_t i_begin = (t % g.n_m_tiles) * g.m_tile;
      multiply_block(p, rows, row_begin, row_end, i_begin, std::min(p.m, i_begin + g.m_tile));
    }
  });
}

}  // namespace

void linear(const LinearParams& p, ThreadPool& pool) {
  MIXSERVE_CHECK(p.x && p.w && p.y);
  const QuantizedWeight& w = *p.w;
  MIXSERVE_CHECK_GE(w.k, 1);
  if (p.m <= 0 || w.n <= 0) return;
  const int64_t k = w.k;
  if (w.format == WeightFormat::fp8_e4m3) {
    // W8A8: the activations are rounded to e4m3 per token too (weight_format.h), on a copy.
    std::vector<float> x8(p.x, p.x + p.m * k);
    round_activations_to_fp8(x8.data(), p.m, k);
    LinearParams rounded = p;
    rounded.x = x8.data();
    linear_f32_activations(rounded, pool);
    return;
  }
  linear_f32_activations(p, pool);
}

}  // namespace mixserve::cpu
