// rms_norm and add_rms_norm against fp64 math.
#include "kernels/cpu/rms_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "test_support.h"

namespace mixserve::cpu {
namespace {

// f32 sum of dim squares and a handful of f32 multiplies: a few ulps per element.
constexpr double kTolerance = 2e-6;

std::vector<double> reference(const std::vector<float>& x, const std::vector<float>& weight, int64_t n_rows,
                              int64_t dim, double eps) {
  std::vector<double> out(n_rows * dim);
  for (int64_t r = 0; r < n_rows; ++r) {
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i) sum += static_cast<double>(x[r * dim + i]) * x[r * dim + i];
    const double inv_rms = 1.0 / std::sqrt(sum / dim + eps);
    for (int64_t i = 0; i < dim; ++i) out[r * dim + i] = x[r * dim + i] * inv_rms * weight[i];
  }
  return out;
}

TEST(RmsNorm, MatchesFp64) {
  auto rng = test::make_rng(21);
  ThreadPool pool(2);
  for (int64_t n_rows : {1, 3, 17}) {
    for (int64_t dim : {1, 7, 64, 4099}) {
      const auto x = test::random_normal(n_rows * dim, rng, 3.0f);
      const auto weight = test::random_uniform(dim, rng, 0.5f, 1.5f);
      std::vector<float> out(n_rows * dim, NAN);
      rms_norm({.x = x.data(), .weight = weight.data(), .out = out.data(), .n_rows = n_rows, .dim = dim,
                .eps = 1e-5f},
               pool);
      const auto expected = reference(x, weight, n_rows, dim, 1e-5f);
      EXPECT_LT(test::relative_frobenius_error(out.data(), expected.data(), out.size()), kTolerance)
          << "rows=" << n_rows << " dim=" << dim;
    }
  }
}

TEST(RmsNorm, InPlaceEqualsOutOfPlace) {
  auto rng = test::make_rng(22);
  ThreadPool pool(2);
  const int64_t n_rows = 5, dim = 300;
  auto x = test::random_normal(n_rows * dim, rng);
  const auto weight = test::random_normal(dim, rng);
  std::vector<float> out(n_rows * dim);
  rms_norm({.x = x.data(), .weight = weight.data(), .out = out.data(), .n_rows = n_rows, .dim = dim}, pool);
  rms_norm({.x = x.data(), .weight = weight.data(), .out = x.data(), .n_rows = n_rows, .dim = dim}, pool);
  EXPECT_EQ(x, out);
}

TEST(AddRmsNorm, UpdatesResidualAndNormalizesTheSum) {
  auto rng = test::make_rng(23);
  ThreadPool pool(2);
  for (int64_t n_rows : {1, 3, 17}) {
    for (int64_t dim : {7, 64, 1000}) {
      auto residual = test::random_normal(n_rows * dim, rng);
      const auto residual_before = residual;
      const auto x = test::random_normal(n_rows * dim, rng);
      const auto weight = test::random_uniform(dim, rng, 0.5f, 1.5f);
      std::vector<float> out(n_rows * dim, NAN);
      add_rms_norm({.residual = residual.data(), .x = x.data(), .weight = weight.data(), .out = out.data(),
                    .n_rows = n_rows, .dim = dim},
                   pool);
      std::vector<float> sum(n_rows * dim);
      for (size_t i = 0; i < sum.size(); ++i) sum[i] = residual_before[i] + x[i];  // one f32 add: exact match
      EXPECT_EQ(residual, sum);
      const auto expected = reference(sum, weight, n_rows, dim, 1e-6f);
      EXPECT_LT(test::relative_frobenius_error(out.data(), expected.data(), out.size()), kTolerance)
          << "rows=" << n_rows << " dim=" << dim;
    }
  }
}

}  // namespace
}  // namespace mixserve::cpu
