#include "kernels/cpu/linear.h"

#include <algorithm>
#include <vector>

#include "core/check.h"

namespace mixserve::cpu {
namespace {

// Dot products are split over kLanes independent partial sums: without -ffast-math the compiler may not
// reorder one running float sum, but it turns a fixed-length loop over distinct accumulators into vector code.
constexpr int kLanes = 8;
// Weight rows are dequantized a block at a time into a buffer of about this many floats (64 KiB: L2-resident)
// and reused by every row of x.
constexpr int64_t kBlockFloats = 16384;
// Below this many multiply-adds a chunk is not worth handing to another thread.
constexpr int64_t kMinChunkMacs = 1 << 16;

float sum_lanes(const float* acc) {
  float s = 0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

// out[r] = dot(x, w + r * k) for the 4 rows r of w: each x load feeds four rows.
void dot_1x4(const float* x, const float* w, int64_t k, float* out) {
  const float* w0 = w;          // [k]
  const float* w1 = w + k;      // [k]
  const float* w2 = w + 2 * k;  // [k]
  const float* w3 = w + 3 * k;  // [k]
  float a0[kLanes] = {}, a1[kLanes] = {}, a2[kLanes] = {}, a3[kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= k; c += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float xv = x[c + l];
      a0[l] += xv * w0[c + l];
      a1[l] += xv * w1[c + l];
      a2[l] += xv * w2[c + l];
      a3[l] += xv * w3[c + l];
    }
  }
  float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
  for (; c < k; ++c) {
    t0 += x[c] * w0[c];
    t1 += x[c] * w1[c];
    t2 += x[c] * w2[c];
    t3 += x[c] * w3[c];
  }
  out[0] = sum_lanes(a0) + t0;
  out[1] = sum_lanes(a1) + t1;
  out[2] = sum_lanes(a2) + t2;
  out[3] = sum_lanes(a3) + t3;
}

float dot_1x1(const float* x, const float* w, int64_t k) {
  float acc[kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= k; c += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += x[c + l] * w[c + l];
  float tail = 0;
  for (; c < k; ++c) tail += x[c] * w[c];
  return sum_lanes(acc) + tail;
}

// y[:, row_begin:row_end] for all m rows of x, from the block's f32 weights w [row_end - row_begin][k].
void multiply_block(const LinearParams& p, const float* w, int64_t row_begin, int64_t row_end) {
  const int64_t k = p.w->k;
  const int64_t n = p.w->n;
  for (int64_t i = 0; i < p.m; ++i) {
    const float* x = p.x + i * k;  // [k]
    float* y = p.y + i * n;        // [n]
    int64_t r = row_begin;
    for (; r + 4 <= row_end; r += 4) dot_1x4(x, w + (r - row_begin) * k, k, y + r);
    for (; r < row_end; ++r) y[r] = dot_1x1(x, w + (r - row_begin) * k, k);
    if (p.bias)
      for (r = row_begin; r < row_end; ++r) y[r] += p.bias[r];
  }
}

}  // namespace

void linear(const LinearParams& p, ThreadPool& pool) {
  MIXSERVE_CHECK(p.x && p.w && p.y);
  const QuantizedWeight& w = *p.w;
  MIXSERVE_CHECK_GE(w.k, 1);
  if (p.m <= 0 || w.n <= 0) return;
  const int64_t k = w.k;
  // A multiple of 4 rows (dot_1x4), at least 4, at most 64.
  const int64_t rows_per_block = std::clamp<int64_t>(kBlockFloats / k / 4 * 4, 4, 64);
  const int64_t n_blocks = (w.n + rows_per_block - 1) / rows_per_block;
  const int64_t min_chunk = std::max<int64_t>(1, kMinChunkMacs / (p.m * k * rows_per_block));
  const bool dense_f32 = w.format == WeightFormat::f32;  // used in place, nothing to convert
  pool.parallel_for(n_blocks, min_chunk, [&](int64_t block_begin, int64_t block_end) {
    std::vector<float> buffer(dense_f32 ? 0 : static_cast<size_t>(rows_per_block * k));  // one per chunk
    for (int64_t b = block_begin; b < block_end; ++b) {
      const int64_t row_begin = b * rows_per_block;
      const int64_t row_end = std::min(w.n, row_begin + rows_per_block);
      const float* rows;  // [row_end - row_begin][k]
      if (dense_f32) {
        rows = reinterpret_cast<const float*>(w.data.data()) + row_begin * k;
      } else {
        dequantize_rows(w, row_begin, row_end, buffer.data());
        rows = buffer.data();
      }
      multiply_block(p, rows, row_begin, row_end);
    }
  });
}

}  // namespace mixserve::cpu
