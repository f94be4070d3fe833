// silu_mul against fp64 math, including gates large enough to overflow exp(-g).
#include "kernels/cpu/activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "test_support.h"

namespace mixserve::cpu {
namespace {

TEST(SiluMul, MatchesFp64) {
  auto rng = test::make_rng(31);
  ThreadPool pool(2);
  for (int64_t n_rows : {1, 3, 17}) {
    for (int64_t dim : {1, 5, 1000}) {
      auto gate_up = test::random_normal(n_rows * 2 * dim, rng, 4.0f);
      if (dim > 2) {  // among enough ordinary values that the relative error stays meaningful
        gate_up[0] = -120.0f;  // exp(120) overflows f32: silu must give ~0 (underflowed), not NaN
        gate_up[1] = 95.0f;
      }
      std::vector<float> out(n_rows * dim, NAN);
      silu_mul({.gate_up = gate_up.data(), .out = out.data(), .n_rows = n_rows, .dim = dim}, pool);
      std::vector<double> expected(n_rows * dim);
      for (int64_t r = 0; r < n_rows; ++r) {
        for (int64_t i = 0; i < dim; ++i) {
          const double g = gate_up[r * 2 * dim + i];
          const double up = gate_up[r * 2 * dim + dim + i];
          expected[r * dim + i] = g / (1.0 + std::exp(-g)) * up;
        }
      }
      for (float v : out) ASSERT_TRUE(std::isfinite(v));
      // expf and one division and two multiplies in f32: a few ulps per element.
      EXPECT_LT(test::relative_frobenius_error(out.data(), expected.data(), out.size()), 1e-6)
          << "rows=" << n_rows << " dim=" << dim;
    }
  }
}

}  // namespace
}  // namespace mixserve::cpu
