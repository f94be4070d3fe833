#pragma once
// y = x W^T + bias with f32 accumulation, W in any WeightFormat/WeightLayout (dequantized on the fly).
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/formats/weight_format.h"

namespace mixserve::cpu {

struct LinearParams {
  const float* x = nullptr;             // [m][k]
  const QuantizedWeight* w = nullptr;   // [n][k]
  const float* bias = nullptr;          // [n] or nullptr
  float* y = nullptr;                   // [m][n]
  int64_t m = 0;
};
void linear(const LinearParams& p, ThreadPool& pool);

}  // namespace mixserve::cpu
