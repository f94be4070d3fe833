#include "kernels/cpu/rms_norm.h"

#include <cmath>

#include "core/check.h"

namespace mixserve::cpu {
namespace {

// Eight independent partial sums: the loop becomes vector code without -ffast-math (which would otherwise be
// needed to reorder one running float sum), and the pairwise-like split is slightly more accurate.
float sum_of_squares(const float* x, int64_t dim) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= dim; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[i + l] * x[i + l];
  float sum = 0;
  for (; i < dim; ++i) sum += x[i] * x[i];
  for (int l = 0; l < 8; ++l) sum += acc[l];
  return sum;
}

// HF Llama order: (x * rsqrt(mean(x^2) + eps)) * weight, all in f32.
void normalize_row(const float* x, const float* weight, float* out, int64_t dim, float eps) {
  const float mean = sum_of_squares(x, dim) / static_cast<float>(dim);
  const float inv_rms = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < dim; ++i) out[i] = weight[i] * (x[i] * inv_rms);
}

// Rows are independent; a chunk should hold enough elements to pay for the hand-off to another thread.
int64_t rows_per_chunk(int64_t dim) { return dim >= 16384 ? 1 : 16384 / dim; }

}  // namespace

void rms_norm(const RmsNormParams& p, ThreadPool& pool) {
  MIXSERVE_CHECK(p.x && p.weight && p.out);
  MIXSERVE_CHECK_GE(p.dim, 1);
  pool.parallel_for(p.n_rows, rows_per_chunk(p.dim), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) normalize_row(p.x + r * p.dim, p.weight, p.out + r * p.dim, p.dim, p.eps);
  });
}

void add_rms_norm(const AddRmsNormParams& p, ThreadPool& pool) {
  MIXSERVE_CHECK(p.residual && p.x && p.weight && p.out);
  MIXSERVE_CHECK_GE(p.dim, 1);
  pool.parallel_for(p.n_rows, rows_per_chunk(p.dim), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* residual = p.residual + r * p.dim;  // [dim]
      const float* x = p.x + r * p.dim;          // [dim]
      for (int64_t i = 0; i < p.dim; ++i) residual[i] += x[i];
      normalize_row(residual, p.weight, p.out + r * p.dim, p.dim, p.eps);
    }
  });
}

}  // namespace mixserve::cpu
