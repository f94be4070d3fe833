// Sampling: greedy and its limits, seeded reproducibility, the drawn distribution, truncation rules,
// penalties measured against hand computation, and raw logprobs.
#include "kernels/cpu/sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

#include "test_support.h"

namespace mixserve::cpu {
namespace {

SampleOutput run(const std::vector<float>& logits, const SamplingParams& sp, uint64_t step = 0,
                 std::span<const int32_t> prompt = {}, std::span<const int32_t> output = {}) {
  return sample({.logits = logits.data(), .vocab = static_cast<int64_t>(logits.size()), .params = &sp,
                 .prompt_tokens = prompt, .output_tokens = output, .step = step});
}

std::vector<double> softmax(const std::vector<float>& logits, double temperature = 1.0) {
  const double mx = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  for (size_t i = 0; i < p.size(); ++i) p[i] = std::exp((logits[i] - mx) / temperature);
  const double sum = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& v : p) v /= sum;
  return p;
}

// Ids by decreasing probability, lowest id first among equals.
std::vector<int32_t> ranked(const std::vector<double>& p) {
  std::vector<int32_t> ids(p.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
  return ids;
}

int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());  // first maximum
}

TEST(Sampling, GreedyPicksTheArgmaxWithTheLowestIdOnTies) {
  auto rng = test::make_rng(61);
  const SamplingParams greedy{.temperature = 0.0f};
  auto logits = test::random_normal(1000, rng);
  EXPECT_EQ(run(logits, greedy).token, argmax(logits));
  const float top = *std::max_element(logits.begin(), logits.end());
  logits[900] = logits[37] = logits[500] = top + 1.0f;
  EXPECT_EQ(run(logits, greedy).token, 37);
  const SamplingParams top1{.temperature = 1.0f, .top_k = 1, .seed = 5};
  for (uint64_t step = 0; step < 50; ++step) EXPECT_EQ(run(logits, top1, step).token, 37);
}

TEST(Sampling, TemperatureTowardZeroBecomesGreedy) {
  auto rng = test::make_rng(62);
  auto logits = test::random_normal(500, rng);
  const int32_t best = argmax(logits);
  for (float& l : logits)  // a gap of at least 0.1 under the best: at T = 1e-3 the rest weigh < e^-100
    if (l > logits[best] - 0.1f && &l != &logits[best]) l = logits[best] - 0.1f;
  for (float t : {1e-3f, 1e-6f}) {
    const SamplingParams sp{.temperature = t, .seed = rng()};
    for (uint64_t step = 0; step < 100; ++step) ASSERT_EQ(run(logits, sp, step).token, best) << "T=" << t;
  }
}

TEST(Sampling, SameSeedAndStepRepeatDifferentSeedsDiffer) {
  auto rng = test::make_rng(63);
  const auto logits = test::random_normal(1000, rng, 0.1f);  // nearly flat: draws spread over the vocabulary
  const uint64_t seed = rng();
  const SamplingParams a{.seed = seed}, b{.seed = seed + 1};
  int differ = 0;
  std::set<int32_t> seen;
  for (uint64_t step = 0; step < 200; ++step) {
    const int32_t ta = run(logits, a, step).token;
    ASSERT_EQ(run(logits, a, step).token, ta);
    differ += run(logits, b, step).token != ta;
    seen.insert(ta);
  }
  EXPECT_GT(differ, 180);  // two tokens of a ~flat 1000-way draw coincide ~0.1% of the time
  EXPECT_GT(seen.size(), 150u);
}

// Upper tail of chi-square with `dof` degrees of freedom at P = 1e-6 (Wilson-Hilferty, z = 4.753).
double chi_square_bound(int dof) {
  if (dof <= 0) return std::numeric_limits<double>::infinity();  // a single kept token: nothing to test
  const double a = 2.0 / (9.0 * dof);
  return dof * std::pow(1 - a + 4.753 * std::sqrt(a), 3);
}

// 20000 draws against expected probabilities; returns the chi-square statistic over the support.
double chi_square(const std::vector<float>& logits, const SamplingParams& sp, const std::vector<double>& p,
                  int* dof) {
  const int n_draws = 20000;
  std::vector<int> counts(logits.size());
  for (int step = 0; step < n_draws; ++step) ++counts[run(logits, sp, step).token];
  double stat = 0;
  *dof = -1;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " is excluded";
      continue;
    }
    const double e = n_draws * p[i];
    stat += (counts[i] - e) * (counts[i] - e) / e;
    ++*dof;
  }
  return stat;
}

// The tokens that top-k, then top-p (over the renormalized top-k), then min-p keep, at temperature 1.
std::set<int32_t> allowed(const std::vector<float>& logits, int top_k, double top_p, double min_p) {
  const auto p = softmax(logits);
  auto order = ranked(p);
  if (top_k > 0 && top_k < static_cast<int>(order.size())) order.resize(top_k);
  double kept_mass = 0;
  for (int32_t id : order) kept_mass += p[id];
  double cumulative = 0;
  std::set<int32_t> out;
  for (int32_t id : order) {
    if (p[id] >= min_p * p[order[0]]) out.insert(id);
    cumulative += p[id] / kept_mass;
    if (cumulative >= top_p) break;
  }
  return out;
}

TEST(Sampling, DrawsFollowTheSoftmax) {
  auto rng = test::make_rng(64);
  const auto logits = test::random_normal(10, rng);
  int dof = 0;
  const double stat = chi_square(logits, {.temperature = 1.0f, .seed = rng()}, softmax(logits), &dof);
  EXPECT_LT(stat, chi_square_bound(dof)) << "chi-square with " << dof << " dof";

  // Temperature 0.7 and top-k 4: the softmax of logits / 0.7 renormalized over the 4 best.
  auto p = softmax(logits, 0.7);
  const auto order = ranked(p);
  for (size_t r = 4; r < order.size(); ++r) p[order[r]] = 0;
  const double kept = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& v : p) v /= kept;
  const double stat_k = chi_square(logits, {.temperature = 0.7f, .top_k = 4, .seed = rng()}, p, &dof);
  EXPECT_LT(stat_k, chi_square_bound(dof)) << "top-k: chi-square with " << dof << " dof";

  // Top-p 0.8 and min-p 0.1 at temperature 1: the softmax renormalized over the tokens both keep.
  const auto keep = allowed(logits, 0, 0.8, 0.1);
  p = softmax(logits);
  for (size_t i = 0; i < p.size(); ++i)
    if (!keep.count(static_cast<int32_t>(i))) p[i] = 0;
  const double kept_p = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& v : p) v /= kept_p;
  const double stat_p = chi_square(logits, {.top_p = 0.8f, .min_p = 0.1f, .seed = rng()}, p, &dof);
  EXPECT_LT(stat_p, chi_square_bound(dof)) << "top-p/min-p: chi-square with " << dof << " dof";
}

TEST(Sampling, TruncationNeverPicksAnExcludedToken) {
  auto rng = test::make_rng(65);
  struct Case {
    int64_t vocab;
    int top_k;
    float top_p, min_p;
  };
  // The 150k-vocabulary top-p case has a nucleus of thousands of tokens: the candidate search must grow.
  const Case cases[] = {{1000, 20, 1.0f, 0.0f},  {1000, 0, 0.8f, 0.0f},    {1000, 0, 1.0f, 0.1f},
                        {1000, 50, 0.9f, 0.05f}, {150000, 0, 0.5f, 0.0f}, {150000, 40, 0.95f, 0.0f}};
  for (const Case& c : cases) {
    const auto logits = test::random_normal(c.vocab, rng);  // spread out: every rule keeps several tokens
    const auto ok = allowed(logits, c.top_k, c.top_p, c.min_p);
    const SamplingParams sp{.top_k = c.top_k, .top_p = c.top_p, .min_p = c.min_p, .seed = rng()};
    std::set<int32_t> drawn;
    const int n_draws = c.vocab > 1000 ? 30 : 500;
    for (int step = 0; step < n_draws; ++step) {
      const int32_t t = run(logits, sp, step).token;
      ASSERT_TRUE(ok.count(t)) << "token " << t << " excluded; vocab " << c.vocab << " top_k " << c.top_k
                               << " top_p " << c.top_p << " min_p " << c.min_p;
      drawn.insert(t);
    }
    EXPECT_GT(drawn.size(), 1u) << "a truncated draw should still vary";
  }
}

// The processed logit of `token`, measured through greedy decisions against a competitor whose logit is
// bisected: greedy picks `token` while its processed logit beats the competitor's. Every other token is
// pushed far below so that only these two can win.
double processed_logit(std::vector<float> logits, int32_t token, int32_t competitor, SamplingParams sp,
                       std::span<const int32_t> prompt, std::span<const int32_t> output) {
  for (int32_t i = 0; i < static_cast<int32_t>(logits.size()); ++i)
    if (i != token && i != competitor) logits[i] = -1000.0f;
  sp.temperature = 0.0f;
  double lo = -100, hi = 100;
  for (int it = 0; it < 60; ++it) {
    const double mid = (lo + hi) / 2;
    logits[competitor] = static_cast<float>(mid);
    (run(logits, sp, 0, prompt, output).token == token ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

TEST(Sampling, PenaltiesMatchHandComputation) {
  // Tokens 1, 2 and 4 carry penalties; token 0 is the competitor; 3 is never seen.
  const std::vector<float> logits = {0.0f, 3.0f, -1.0f, 2.5f, -50.0f, -50.0f};
  const std::vector<int32_t> prompt = {1, 1, 4};
  const std::vector<int32_t> output = {2, 1, 2, 2};
  struct Case {
    SamplingParams sp;
    int32_t token;
    double expected;
    const char* what;
  };
  const Case cases[] = {
      {{.repetition_penalty = 1.5f}, 1, 3.0 / 1.5, "repetition, positive logit, once however often seen"},
      {{.repetition_penalty = 1.5f}, 2, -1.0 * 1.5, "repetition, negative logit"},
      {{.repetition_penalty = 1.5f}, 3, 2.5, "repetition, unseen token"},
      {{.presence_penalty = 0.5f}, 1, 3.0 - 0.5, "presence, output count 1"},
      {{.presence_penalty = 0.5f}, 2, -1.0 - 0.5, "presence, output count 3"},
      {{.frequency_penalty = 0.25f}, 2, -1.0 - 0.75, "frequency, output count 3"},
      {{.presence_penalty = -0.5f, .frequency_penalty = 0.25f}, 1, 3.0 + 0.5 - 0.25, "negative presence"},
      {{.repetition_penalty = 2.0f, .presence_penalty = 0.5f, .frequency_penalty = 0.25f}, 2,
       -1.0 * 2 - 0.5 - 0.75, "all three: repetition first"},
  };
  for (const Case& c : cases) {
    EXPECT_NEAR(processed_logit(logits, c.token, 0, c.sp, prompt, output), c.expected, 1e-5) << c.what;
  }
  // Presence and frequency look at the output only: token 4 appears in the prompt alone.
  const SamplingParams sp{.presence_penalty = 1.0f, .frequency_penalty = 1.0f};
  EXPECT_NEAR(processed_logit(logits, 4, 0, sp, prompt, output), -50.0, 1e-5);
}

TEST(Sampling, LogprobsAreTheRawLogSoftmax) {
  auto rng = test::make_rng(66);
  const auto logits = test::random_normal(3000, rng, 2.0f);
  const std::vector<int32_t> output = {5, 6, 7};
  const SamplingParams sp{.temperature = 0.6f, .top_k = 50, .repetition_penalty = 1.3f, .presence_penalty = 0.4f,
                          .seed = rng(), .n_logprobs = 7};
  const auto p = softmax(logits);
  const auto order = ranked(p);
  for (uint64_t step = 0; step < 20; ++step) {
    const SampleOutput out = run(logits, sp, step, {}, output);
    EXPECT_NEAR(out.logprob, std::log(p[out.token]), 1e-5);
    ASSERT_EQ(out.top_logprobs.size(), 7u);
    for (size_t r = 0; r < 7; ++r) {
      EXPECT_EQ(out.top_logprobs[r].first, order[r]) << "rank " << r;
      EXPECT_NEAR(out.top_logprobs[r].second, std::log(p[order[r]]), 1e-5);
      if (r > 0) {
        EXPECT_LE(out.top_logprobs[r].second, out.top_logprobs[r - 1].second);
      }
    }
  }
  EXPECT_TRUE(run(logits, {.seed = 1}).top_logprobs.empty());
}

TEST(Sampling, UniformFromCounterIsInUnitIntervalAndCentered) {
  const uint64_t seed = test::run_seed();
  double sum = 0;
  for (uint64_t step = 0; step < 100000; ++step) {
    const double u = uniform_from_counter(seed, step);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);  // sd of the mean is 0.0009
}

}  // namespace
}  // namespace mixserve::cpu
