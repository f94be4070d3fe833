#include "kernels/cpu/activation.h"

#include <cmath>

#include "core/check.h"

namespace mixserve::cpu {

void silu_mul(const SiluMulParams& p, ThreadPool& pool) {
  MIXSERVE_CHECK(p.gate_up && p.out);
  MIXSERVE_CHECK_GE(p.dim, 1);
  const int64_t min_rows = p.dim >= 8192 ? 1 : 8192 / p.dim;
  pool.parallel_for(p.n_rows, min_rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* gate = p.gate_up + r * 2 * p.dim;  // [dim]
      const float* up = gate + p.dim;                 // [dim]
      float* out = p.out + r * p.dim;                 // [dim]
      // g / (1 + exp(-g)): for very negative g, exp overflows to inf and the quotient is -0, the right limit.
      for (int64_t i = 0; i < p.dim; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
    }
  });
}

}  // namespace mixserve::cpu
