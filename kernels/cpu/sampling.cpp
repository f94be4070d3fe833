#include "kernels/cpu/sampling.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace mixserve::cpu {
namespace {

// Below this temperature the distribution is a point mass for any practical logit gap; sampling is then
// greedy, as in vLLM (_SAMPLING_EPS), which also avoids dividing by a denormal.
constexpr float kGreedyTemperature = 1e-5f;
// First candidate count tried when top-p must find its nucleus among the whole vocabulary; multiplied by
// kNucleusGrowth until the nucleus fits, so peaked distributions never sort the vocabulary.
constexpr int64_t kNucleusFirstTry = 64;
constexpr int64_t kNucleusGrowth = 8;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The c ids with the largest v, best first; equal values rank the lower id first. A bounded heap keeps the
// cost at O(vocab log c) and allocates only c ids.
std::vector<int32_t> top_ids(const float* v, int64_t vocab, int64_t c) {
  c = std::min(c, vocab);
  // Ordered "better first"; as the heap's less-than it keeps the worst kept id on top.
  const auto better = [v](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); };
  std::vector<int32_t> heap;
  heap.reserve(static_cast<size_t>(c));
  for (int32_t i = 0; i < vocab; ++i) {
    if (static_cast<int64_t>(heap.size()) < c) {
      heap.push_back(i);
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (c > 0 && better(i, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = i;
      std::push_heap(heap.begin(), heap.end(), better);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), better);
  return heap;
}

// Length of the shortest prefix of `ranked` (best first) whose weight reaches top_p * total; 0 if none does.
size_t nucleus_size(const std::vector<int32_t>& ranked, const float* weight, double total, float top_p) {
  const double target = static_cast<double>(top_p) * total;
  double cumulative = 0;
  for (size_t i = 0; i < ranked.size(); ++i) {
    cumulative += weight[ranked[i]];
    if (cumulative >= target) return i + 1;
  }
  return 0;
}

// vLLM's order: repetition first (on the raw sign), then presence and frequency from the output counts.
void apply_penalties(const SampleInput& in, std::vector<float>& logits) {
  const SamplingParams& sp = *in.params;
  const auto check_id = [&](int32_t id) { MIXSERVE_CHECK(id >= 0 && id < in.vocab); };
  if (sp.repetition_penalty != 1.0f) {
    std::vector<int32_t> seen(in.prompt_tokens.begin(), in.prompt_tokens.end());
    seen.insert(seen.end(), in.output_tokens.begin(), in.output_tokens.end());
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t id : seen) {
      check_id(id);
      float& l = logits[id];
      l = l > 0 ? l / sp.repetition_penalty : l * sp.repetition_penalty;
    }
  }
  if (sp.presence_penalty != 0.0f || sp.frequency_penalty != 0.0f) {
    std::vector<int32_t> out(in.output_tokens.begin(), in.output_tokens.end());
    std::sort(out.begin(), out.end());
    for (size_t i = 0; i < out.size();) {
      size_t j = i;
      while (j < out.size() && out[j] == out[i]) ++j;
      check_id(out[i]);
      logits[out[i]] -= sp.presence_penalty + sp.frequency_penalty * static_cast<float>(j - i);
      i = j;
    }
  }
}

int32_t argmax(const std::vector<float>& v) {
  int32_t best = 0;
  for (int32_t i = 1; i < static_cast<int32_t>(v.size()); ++i)
    if (v[i] > v[best]) best = i;  // strict: the lowest id wins ties
  return best;
}

// The candidates left by top-k, top-p and min-p, best first; empty means every token (nothing truncated).
// `weight` holds exp((logit - max) / T): unnormalized probabilities, the most likely token at exactly 1.
std::vector<int32_t> truncate(const SamplingParams& sp, const float* weight, int64_t vocab, bool* all) {
  std::vector<int32_t> kept;
  *all = true;
  if (sp.top_k > 0 && sp.top_k < vocab) {
    kept = top_ids(weight, vocab, sp.top_k);
    *all = false;
  }
  if (sp.top_p < 1.0f) {
    if (*all) {
      double total = 0;
      for (int64_t i = 0; i < vocab; ++i) total += weight[i];
      for (int64_t c = kNucleusFirstTry;; c *= kNucleusGrowth) {
        kept = top_ids(weight, vocab, c);
        const size_t size = nucleus_size(kept, weight, total, sp.top_p);
        if (size > 0 || c >= vocab) {
          if (size > 0) kept.resize(size);  // else rounding kept the sum short of top_p: keep everything
          break;
        }
      }
      *all = false;
    } else {
      double total = 0;  // top-p applies to the distribution renormalized over the top-k set
      for (int32_t id : kept) total += weight[id];
      const size_t size = nucleus_size(kept, weight, total, sp.top_p);
      if (size > 0) kept.resize(size);
    }
  }
  if (sp.min_p > 0.0f) {
    // p_i >= min_p * p_max <=> weight_i >= min_p, since the best token (weight 1) survives top-k and top-p
    // and renormalization does not change ratios.
    if (*all) {
      for (int32_t i = 0; i < vocab; ++i)
        if (weight[i] >= sp.min_p) kept.push_back(i);
      *all = false;
    } else {
      std::erase_if(kept, [&](int32_t id) { return weight[id] < sp.min_p; });
    }
  }
  return kept;
}

// Inverse-CDF draw over the candidates in the given order with uniform u in [0, 1).
template <typename Ids>
int32_t draw(const Ids& ids, const float* weight, double u) {
  double total = 0;
  for (int32_t id : ids) total += weight[id];
  const double target = u * total;
  double cumulative = 0;
  int32_t last_positive = -1;
  for (int32_t id : ids) {
    if (weight[id] <= 0) continue;
    cumulative += weight[id];
    last_positive = id;
    if (cumulative > target) return id;
  }
  MIXSERVE_CHECK_GE(last_positive, 0);  // the best token has weight 1, so some candidate is positive
  return last_positive;                 // only reached when rounding left the sum a hair short of target
}

struct IdRange {  // every id in [0, n), for draw() over the untruncated vocabulary
  int32_t n;
  struct Iterator {
    int32_t i;
    int32_t operator*() const { return i; }
    Iterator& operator++() { return ++i, *this; }
    bool operator!=(const Iterator& o) const { return i != o.i; }
  };
  Iterator begin() const { return {0}; }
  Iterator end() const { return {n}; }
};

}  // namespace

double uniform_from_counter(uint64_t seed, uint64_t step) {
  // splitmix64(splitmix64(seed) ^ step), top 53 bits: the GPU sampler computes the same bits.
  const uint64_t bits = splitmix64(splitmix64(seed) ^ step);
  return static_cast<double>(bits >> 11) * 0x1p-53;
}

SampleOutput sample(const SampleInput& in) {
  MIXSERVE_CHECK(in.logits && in.params);
  MIXSERVE_CHECK(in.vocab > 0 && in.vocab <= INT32_MAX);
  const SamplingParams& sp = *in.params;
  const int64_t vocab = in.vocab;

  // Raw log-softmax normalizer, before any processing: logprobs describe the model, not the sampler.
  float raw_max = in.logits[0];
  for (int64_t i = 1; i < vocab; ++i) raw_max = std::max(raw_max, in.logits[i]);
  double raw_sum = 0;
  for (int64_t i = 0; i < vocab; ++i) raw_sum += std::exp(in.logits[i] - raw_max);
  const double log_normalizer = raw_max + std::log(raw_sum);

  std::vector<float> work(in.logits, in.logits + vocab);  // [vocab]: penalized logits, then weights
  apply_penalties(in, work);

  SampleOutput out;
  if (sp.temperature < kGreedyTemperature || sp.top_k == 1) {
    out.token = argmax(work);
  } else {
    const float max_logit = work[argmax(work)];
    for (float& w : work) w = std::exp((w - max_logit) / sp.temperature);
    bool all = false;
    const std::vector<int32_t> kept = truncate(sp, work.data(), vocab, &all);
    const double u = uniform_from_counter(sp.seed, in.step);
    out.token = all ? draw(IdRange{static_cast<int32_t>(vocab)}, work.data(), u) : draw(kept, work.data(), u);
  }
  out.logprob = static_cast<float>(in.logits[out.token] - log_normalizer);
  if (sp.n_logprobs > 0) {
    for (int32_t id : top_ids(in.logits, vocab, sp.n_logprobs))
      out.top_logprobs.emplace_back(id, static_cast<float>(in.logits[id] - log_normalizer));
  }
  return out;
}

}  // namespace mixserve::cpu
