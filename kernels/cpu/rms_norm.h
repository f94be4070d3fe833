#pragma once
// RMSNorm as HF Llama computes it in fp32: out = x / sqrt(mean(x^2) + eps) * weight.
#include <cstdint>

#include "core/thread_pool.h"

namespace mixserve::cpu {

struct RmsNormParams {
  const float* x = nullptr;       // [n_rows][dim]
  const float* weight = nullptr;  // [dim]
  float* out = nullptr;           // [n_rows][dim]; may alias x
  int64_t n_rows = 0;
  int64_t dim = 0;
  float eps = 1e-6f;
};
void rms_norm(const RmsNormParams& p, ThreadPool& pool);

// residual += x, then out = rms_norm(residual): the fused form the model uses between sublayers.
struct AddRmsNormParams {
  float* residual = nullptr;      // [n_rows][dim], updated in place
  const float* x = nullptr;       // [n_rows][dim]
  const float* weight = nullptr;  // [dim]
  float* out = nullptr;           // [n_rows][dim]
  int64_t n_rows = 0;
  int64_t dim = 0;
  float eps = 1e-6f;
};
void add_rms_norm(const AddRmsNormParams& p, ThreadPool& pool);

}  // namespace mixserve::cpu
