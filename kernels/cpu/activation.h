#pragma once
// SwiGLU's gate: out = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
#include <cstdint>

#include "core/thread_pool.h"

namespace mixserve::cpu {

struct SiluMulParams {
  const float* gate_up = nullptr;  // [n_rows][2 * dim]: gate in [0, dim), up in [dim, 2*dim)
  float* out = nullptr;            // [n_rows][dim]
  int64_t n_rows = 0;
  int64_t dim = 0;
};
void silu_mul(const SiluMulParams& p, ThreadPool& pool);

}  // namespace mixserve::cpu
