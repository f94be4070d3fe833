#pragma once
// Rotary position embedding, HF "rotate_half" convention: element i pairs with i + head_dim/2.
// inv_freq[i] = theta^(-2i/head_dim), then adjusted by the scaling:
//   linear: inv_freq / factor.
//   llama3: wavelen = 2*pi/inv_freq; wavelen > orig/low_freq_factor -> inv_freq/factor;
//           wavelen < orig/high_freq_factor -> unchanged; else smooth blend with
//           smooth = (orig/wavelen - low) / (high - low): (1-smooth)*inv_freq/factor + smooth*inv_freq.
// Angles are computed in f32 as position * inv_freq, as HF does.
#include <cstdint>
#include <vector>

#include "core/model_config.h"
#include "core/thread_pool.h"

namespace mixserve::cpu {

std::vector<float> rope_inv_freq(int64_t head_dim, double theta, const RopeScaling& scaling);

struct RopeParams {
  float* x = nullptr;                  // [n_tokens][n_heads][head_dim], rotated in place
  const int32_t* positions = nullptr;  // [n_tokens]
  const float* inv_freq = nullptr;     // [head_dim / 2]
  int64_t n_tokens = 0;
  int64_t n_heads = 0;
  int64_t head_dim = 0;
  int64_t row_stride = 0;  // floats between consecutive tokens (>= n_heads * head_dim; lets q and k sit in qkv)
};
void rope(const RopeParams& p, ThreadPool& pool);

}  // namespace mixserve::cpu
