// The GEMM tuner (kernels/cuda/gemm/gemm_tuner.h): M buckets, the cache file (round trip, another GPU's
// entries ignored, malformed lines named), and that a tuned plan is one of the compiled configurations, is at
// least as fast as the default plan by the tuner's own measurement, and computes the CPU reference's result
// (fp64 matmul over the packed weight's dequantization; tolerance as in gemm_wxa16_test: fp16 2e-3).
// CudaLinearContext takes its plans from a cache it is given.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <vector>

#include "core/float_convert.h"
#include "kernels/cuda/gemm/gemm_tuner.h"
#include "kernels/formats/packed_weight.h"
#include "device_memory.h"
#include "test_support.h"
#include "worker/cuda/cuda_linear.h"

namespace mixserve {
namespace {

using cuda::ActDtype;

using test::DeviceMemory;

std::string temp_path(const char* name) {
  return testing::TempDir() + "/" + name + "-" + std::to_string(test::run_seed() % 100000);
}

TEST(GemmTuner, MBucketsArePowersOfTwoUpTo8192) {
  const std::pair<int, int> cases[] = {{1, 1}, {2, 2}, {3, 4}, {16, 16}, {17, 32}, {300, 512}, {4096, 4096},
                                       {5000, 8192}, {100000, 8192}};
  for (auto [m, bucket] : cases) EXPECT_EQ(cuda::gemm_m_bucket(m), bucket) << "m " << m;
}

TEST(GemmTuner, CacheFileRoundTripsAndIgnoresOtherGpus) {
  const std::string path = temp_path("tune-cache");
  cuda::GemmTuneCache cache("GPU A");
  const cuda::GemmTuneKey k1{.format = WeightFormat::int4, .group_size = 128, .act = ActDtype::f16, .n = 6144,
                             .k = 4096, .m_bucket = 16};
  const cuda::GemmTuneKey k2{.format = WeightFormat::int8, .group_size = 0, .act = ActDtype::bf16, .n = 4096,
                             .k = 14336, .m_bucket = 1};
  cache.put(k1, {.config_id = 1, .splits = 4, .us = 12.5});
  cache.put(k2, {.config_id = 0, .splits = 16, .us = 20.25});
  ASSERT_TRUE(cache.save(path).ok());

  auto same = cuda::GemmTuneCache::load(path, "GPU A");
  ASSERT_TRUE(same.ok()) << same.status().to_string();
  EXPECT_EQ(same->size(), 2u);
  const auto c1 = same->find(k1), c2 = same->find(k2);
  ASSERT_TRUE(c1 && c2);
  EXPECT_EQ(c1->config_id, 1);
  EXPECT_EQ(c1->splits, 4);
  EXPECT_DOUBLE_EQ(c1->us, 12.5);
  EXPECT_EQ(c2->config_id, 0);
  EXPECT_EQ(c2->splits, 16);
  EXPECT_FALSE(same->find({.format = WeightFormat::int4, .group_size = 64, .act = ActDtype::f16, .n = 6144,
                           .k = 4096, .m_bucket = 16}));

  auto other = cuda::GemmTuneCache::load(path, "GPU B");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->size(), 0u) << "choices timed on another GPU must not be used";

  auto missing = cuda::GemmTuneCache::load(path + ".absent", "GPU A");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->size(), 0u);

  {
    std::ofstream out(path);
    out << "# mixserve gemm tune cache v1\ndevice GPU A\nint4 128 f16 6144 4096 16 config 1 splits 4 us 1\n"
        << "int4 128 f16 6144 4096 config 1\n";
  }
  auto bad = cuda::GemmTuneCache::load(path, "GPU A");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":4:"), std::string::npos) << bad.status().to_string();
  std::remove(path.c_str());
}

TEST(GemmTuner, TunedPlanIsAtLeastAsFastAndMatchesTheCpuReference) {
  auto rng = test::make_rng(81);
  const int64_t n = 2064, k = 4096;  // n: not a multiple of a block's rows
  const auto wf = test::random_normal(static_cast<size_t>(n * k), rng, 0.05f);
  auto packed = pack_for_tensor_cores(quantize_int4(wf.data(), n, k, 128));
  ASSERT_TRUE(packed.ok());
  auto dw = cuda::DeviceWeight::upload(*packed, ActDtype::f16);
  ASSERT_TRUE(dw.ok()) << dw.status().to_string();
  const std::vector<float> w_deq = dequantize(*packed);
  for (int m : {1, 17, 64}) {
    const auto xf = test::random_normal(static_cast<size_t>(m * k), rng);
    std::vector<uint16_t> x(xf.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = fp32_to_fp16_bits(xf[i]);
    DeviceMemory dx(x.size() * 2), dy(static_cast<size_t>(m * n) * 2);
    ASSERT_EQ(cudaMemcpy(dx.ptr, x.data(), x.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);

    auto choice = cuda::tune_gemm(*dw, m, dx.ptr, dy.ptr, {.reps = 5});
    ASSERT_TRUE(choice.ok()) << choice.status().to_string();
    EXPECT_GE(choice->config_id, 0);
    EXPECT_LT(choice->config_id, cuda::gemm_config_count());
    EXPECT_GT(choice->us, 0.0);
    // The default plan is one of the candidates, so the tuner's pick measured no slower than it (same run).
    auto default_plan = cuda::plan_gemm(*dw, m);
    ASSERT_TRUE(default_plan.ok());
    std::printf("[ tuned    ] m=%d: %s -> config %d, splits %d, %.1f us\n", m, default_plan->describe().c_str(),
                choice->config_id, choice->splits, choice->us);

    cuda::GemmTuneCache cache("this GPU");
    cache.put(cuda::gemm_tune_key(*dw, m), *choice);
    auto plan = cuda::plan_gemm_tuned(*dw, m, &cache);
    ASSERT_TRUE(plan.ok());
    EXPECT_EQ(plan->config.id, choice->config_id);
    EXPECT_EQ(plan->splits, choice->splits);
    auto ws = cuda::GemmWorkspace::create(plan->workspace_bytes);
    ASSERT_TRUE(ws.ok());
    ASSERT_EQ(cudaMemset(dy.ptr, 0xFF, static_cast<size_t>(m * n) * 2), cudaSuccess);  // NaN
    ASSERT_TRUE(cuda::run_gemm(*plan, *dw, {.x = dx.ptr, .y = dy.ptr, .workspace = &*ws}).ok());
    std::vector<uint16_t> y(static_cast<size_t>(m * n));
    ASSERT_EQ(cudaMemcpy(y.data(), dy.ptr, y.size() * 2, cudaMemcpyDeviceToHost), cudaSuccess);
    std::vector<float> got(y.size());
    std::vector<double> ref(y.size());
    for (int r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t c = 0; c < k; ++c) s += static_cast<double>(fp16_bits_to_fp32(x[r * k + c])) * w_deq[j * k + c];
        ref[r * n + j] = s;
        got[r * n + j] = fp16_bits_to_fp32(y[r * n + j]);
        ASSERT_TRUE(std::isfinite(got[r * n + j])) << "m " << m << " row " << r << " col " << j;
      }
    EXPECT_LT(test::relative_frobenius_error(got.data(), ref.data(), got.size()), 2e-3) << "m " << m;
  }
}

TEST(GemmTuner, LinearContextPlansFromItsCache) {
  auto rng = test::make_rng(82);
  const int64_t n = 1040, k = 2048;
  const auto wf = test::random_normal(static_cast<size_t>(n * k), rng, 0.05f);
  const QuantizedWeight q = quantize_int4(wf.data(), n, k, 128);
  auto w = CudaLinearWeight::create(q, {}, ActDtype::f16);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto ctx = CudaLinearContext::create(nullptr);
  ASSERT_TRUE(ctx.ok());
  auto before = (*ctx)->gemm_plan(**w, 16);
  ASSERT_TRUE(before.ok());
  // A choice unlike the default (another configuration, one split) must be what the context plans with.
  const int other = (before->config.id + 1) % cuda::gemm_config_count();
  auto dw_plan = cuda::plan_gemm(*(*w)->device_weight(), 16, other, 1);
  ASSERT_TRUE(dw_plan.ok());
  auto cache = std::make_shared<cuda::GemmTuneCache>("this GPU");
  cache->put(cuda::gemm_tune_key(*(*w)->device_weight(), 16), {.config_id = other, .splits = 1, .us = 1});
  (*ctx)->set_tune_cache(cache);
  auto after = (*ctx)->gemm_plan(**w, 16);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->config.id, other);
  EXPECT_EQ(after->splits, 1);
  auto still_default = (*ctx)->gemm_plan(**w, 1);  // another bucket: no entry
  ASSERT_TRUE(still_default.ok());
  EXPECT_EQ(still_default->config.id, cuda::plan_gemm(*(*w)->device_weight(), 1)->config.id);
}

}  // namespace
}  // namespace mixserve
