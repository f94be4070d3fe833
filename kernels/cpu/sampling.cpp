#include "kernels/cpu/sampling.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/check.h"

namespace mixserve::cpu {
namespace {

// Below this temperature the distribution is a point mass for any practical logit gap; sampling is then
// greedy, as in vLLM (_SAMPLING_EPS), which also avoids dividing by a denormal.
constexpr float kGreedyTemperature = 1e-5f;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Ranks ids by decreasing value, the lower id first among equal values: a strict total order, so every
// selection below is deterministic.
auto better_in(const float* v) {
  return [v](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); };
}

// The c ids with the largest v, best first. A bounded heap keeps the cost at O(vocab log c) and allocates
// only c ids.
std::vector<int32_t> top_ids(const float* v, int64_t vocab, int64_t c) {
  c = std::min(c, vocab);
  const auto better = better_in(v);  // as the heap's less-than it keeps the worst kept id on top
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

// The smallest set of best ids (any order) whose weight reaches `target`: a binary search on the set size in
// which nth_element partitions only the still undecided range, so the whole search is O(vocab) on average and
// nothing is sorted. Invariant: ids[0, lo) are the lo best and weigh mass_lo < target; the hi best reach it.
std::vector<int32_t> nucleus_of_vocab(const float* weight, int64_t vocab, double target) {
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  for (int32_t i = 0; i < vocab; ++i) ids[i] = i;
  const auto better = better_in(weight);
  int64_t lo = 0, hi = vocab;
  double mass_lo = 0;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    std::nth_element(ids.begin() + lo, ids.begin() + mid, ids.begin() + hi, better);
    double mass = mass_lo;
    for (int64_t i = lo; i < mid; ++i) mass += weight[ids[i]];
    if (mass >= target) {
      hi = mid;
    } else {
      lo = mid;
      mass_lo = mass;
    }
  }
  ids.resize(static_cast<size_t>(hi));  // hi == vocab when rounding kept the total short of target: all
  return ids;
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
    std::vector<int32_t> generated(in.output_tokens.begin(), in.output_tokens.end());
    std::sort(generated.begin(), generated.end());
    for (size_t i = 0; i < generated.size();) {  // one run of equal ids per distinct token
      size_t j = i;
      while (j < generated.size() && generated[j] == generated[i]) ++j;
      check_id(generated[i]);
      logits[generated[i]] -= sp.presence_penalty + sp.frequency_penalty * static_cast<float>(j - i);
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

// The tokens a draw may pick after top-k, top-p and min-p: every token, or `ids` in a deterministic order.
struct Candidates {
  bool all = true;
  std::vector<int32_t> ids;
};

// `weight` holds exp((logit - max) / T): unnormalized probabilities, the most likely token at exactly 1.
Candidates truncate(const SamplingParams& sp, const float* weight, int64_t vocab) {
  Candidates c;
  if (sp.top_k > 0 && sp.top_k < vocab) {
    c.ids = top_ids(weight, vocab, sp.top_k);
    c.all = false;
  }
  if (sp.top_p < 1.0f) {
    if (c.all) {
      double total = 0;
      for (int64_t i = 0; i < vocab; ++i) total += weight[i];
      c.ids = nucleus_of_vocab(weight, vocab, static_cast<double>(sp.top_p) * total);
      c.all = false;
    } else {
      double total = 0;  // top-p applies to the distribution renormalized over the top-k set
      for (int32_t id : c.ids) total += weight[id];
      const size_t size = nucleus_size(c.ids, weight, total, sp.top_p);
      if (size > 0) c.ids.resize(size);
    }
  }
  if (sp.min_p > 0.0f) {
    // p_i >= min_p * p_max <=> weight_i >= min_p, since the best token (weight 1) survives top-k and top-p
    // and renormalization does not change ratios.
    if (c.all) {
      for (int32_t i = 0; i < vocab; ++i)
        if (weight[i] >= sp.min_p) c.ids.push_back(i);
      c.all = false;
    } else {
      std::erase_if(c.ids, [&](int32_t id) { return weight[id] < sp.min_p; });
    }
  }
  return c;
}

// Inverse-CDF draw over the candidates, in their order, with u uniform in [0, 1).
int32_t draw(const Candidates& c, const float* weight, int64_t vocab, double u) {
  const int64_t count = c.all ? vocab : static_cast<int64_t>(c.ids.size());
  const auto id_at = [&](int64_t i) { return c.all ? static_cast<int32_t>(i) : c.ids[i]; };
  double total = 0;
  for (int64_t i = 0; i < count; ++i) total += weight[id_at(i)];
  const double target = u * total;
  double cumulative = 0;
  int32_t last_positive = -1;
  for (int64_t i = 0; i < count; ++i) {
    const int32_t id = id_at(i);
    if (weight[id] <= 0) continue;
    cumulative += weight[id];
    last_positive = id;
    if (cumulative > target) return id;
  }
  MIXSERVE_CHECK_GE(last_positive, 0);  // the best token has weight 1, so some candidate is positive
  return last_positive;                 // only reached when rounding left the sum a hair short of target
}

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
    const Candidates candidates = truncate(sp, work.data(), vocab);
    out.token = draw(candidates, work.data(), vocab, uniform_from_counter(sp.seed, in.step));
  }
  out.logprob = static_cast<float>(in.logits[out.token] - log_normalizer);
  if (sp.n_logprobs > 0) {
    for (int32_t id : top_ids(in.logits, vocab, sp.n_logprobs))
      out.top_logprobs.emplace_back(id, static_cast<float>(in.logits[id] - log_normalizer));
  }
  return out;
}

}  // namespace mixserve::cpu
