#include "kernels/cpu/rope.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "core/check.h"

namespace mixserve::cpu {
namespace {

// HF's _compute_llama3_parameters, element by element. Computed in double and rounded once at the end: HF
// works in f32 tensors, which differs by an ulp or so, below anything the model can see.
double llama3_adjust(double inv_freq, const RopeScaling& s) {
  const double orig = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = orig / s.low_freq_factor;
  const double high_freq_wavelen = orig / s.high_freq_factor;
  const double wavelen = 2 * std::numbers::pi / inv_freq;
  if (wavelen > low_freq_wavelen) return inv_freq / s.factor;  // low frequencies: interpolated
  if (wavelen < high_freq_wavelen) return inv_freq;            // high frequencies: kept
  const double smooth = (orig / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  return (1 - smooth) * inv_freq / s.factor + smooth * inv_freq;
}

}  // namespace

std::vector<float> rope_inv_freq(int64_t head_dim, double theta, const RopeScaling& scaling) {
  MIXSERVE_CHECK(head_dim > 0 && head_dim % 2 == 0);
  std::vector<float> out(static_cast<size_t>(head_dim / 2));
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    double f = std::pow(theta, -static_cast<double>(2 * i) / static_cast<double>(head_dim));
    switch (scaling.type) {
      case RopeScalingType::none: break;
      case RopeScalingType::linear: f /= scaling.factor; break;
      case RopeScalingType::llama3: f = llama3_adjust(f, scaling); break;
    }
    out[i] = static_cast<float>(f);
  }
  return out;
}

void rope(const RopeParams& p, ThreadPool& pool) {
  MIXSERVE_CHECK(p.x && p.positions && p.inv_freq);
  MIXSERVE_CHECK(p.head_dim > 0 && p.head_dim % 2 == 0);
  MIXSERVE_CHECK_GE(p.row_stride, p.n_heads * p.head_dim);
  const int64_t half = p.head_dim / 2;
  pool.parallel_for(p.n_tokens, 4, [&](int64_t begin, int64_t end) {
    std::vector<float> cos_sin(static_cast<size_t>(2 * half));  // [2][half], shared by the token's heads
    float* cos_t = cos_sin.data();
    float* sin_t = cos_sin.data() + half;
    for (int64_t t = begin; t < end; ++t) {
      const float pos = static_cast<float>(p.positions[t]);
      for (int64_t i = 0; i < half; ++i) {
        const float angle = pos * p.inv_freq[i];  // f32 product, as HF computes it
        cos_t[i] = static_cast<float>(std::cos(static_cast<double>(angle)));
        sin_t[i] = static_cast<float>(std::sin(static_cast<double>(angle)));
      }
      for (int64_t h = 0; h < p.n_heads; ++h) {
        float* x = p.x + t * p.row_stride + h * p.head_dim;  // [head_dim]: pairs (i, i + half)
        for (int64_t i = 0; i < half; ++i) {
          const float a = x[i];
          const float b = x[i + half];
          x[i] = a * cos_t[i] - b * sin_t[i];
          x[i + half] = b * cos_t[i] + a * sin_t[i];
        }
      }
    }
  });
}

}  // namespace mixserve::cpu
