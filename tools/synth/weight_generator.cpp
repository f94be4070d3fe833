#include "tools/synth/weight_generator.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/check.h"
#include "core/float_convert.h"
#include "core/thread_pool.h"

namespace mixserve::tools {

namespace {

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;

void fill_normal(SplitMix64& rng, double stddev, std::span<uint16_t> out) {
  // Box-Muller, both outputs used; an odd tail drops the second. u1 is in (0, 1] so the log stays finite.
  for (size_t i = 0; i < out.size(); i += 2) {
    const double u1 = 1.0 - rng.uniform();
    const double u2 = rng.uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    out[i] = fp32_to_bf16_bits(static_cast<float>(stddev * radius * std::cos(angle)));
    if (i + 1 < out.size()) out[i + 1] = fp32_to_bf16_bits(static_cast<float>(stddev * radius * std::sin(angle)));
  }
}

void fill_one_plus_uniform(SplitMix64& rng, double half_width, std::span<uint16_t> out) {
  for (auto& x : out) x = fp32_to_bf16_bits(static_cast<float>(1.0 + half_width * (2.0 * rng.uniform() - 1.0)));
}

}  // namespace

uint64_t fnv1a64(std::string_view text) {
  uint64_t hash = 0xCBF29CE484222325ull;
  for (const char c : text) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001B3ull;
  }
  return hash;
}

uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t chunk_stream_key(uint64_t seed, std::string_view name, int64_t chunk_index) {
  // Each input passes through the mixer before the next is folded in, so nearby seeds, similar names and
  // consecutive chunks all land on unrelated streams.
  uint64_t key = splitmix64_mix(seed + kGoldenGamma);
  key = splitmix64_mix(key ^ fnv1a64(name));
  return splitmix64_mix(key + static_cast<uint64_t>(chunk_index) * kGoldenGamma);
}

void fill_chunk_bf16(uint64_t seed, std::string_view name, const WeightInit& init, int64_t chunk_index,
                     std::span<uint16_t> out) {
  MIXSERVE_CHECK_LE(static_cast<int64_t>(out.size()), kChunkElements);
  SplitMix64 rng(chunk_stream_key(seed, name, chunk_index));
  switch (init.kind) {
    case WeightInit::Kind::normal: fill_normal(rng, init.scale, out); break;
    case WeightInit::Kind::one_plus_uniform: fill_one_plus_uniform(rng, init.scale, out); break;
  }
}

void fill_chunks_bf16(uint64_t seed, std::string_view name, const WeightInit& init, int64_t numel,
                      int64_t chunk_begin, int64_t chunk_end, std::span<uint16_t> out, ThreadPool& pool) {
  const int64_t first = chunk_begin * kChunkElements;
  const int64_t last = std::min(numel, chunk_end * kChunkElements);
  MIXSERVE_CHECK_LE(first, last);
  MIXSERVE_CHECK_EQ(static_cast<int64_t>(out.size()), last - first);
  pool.parallel_for(chunk_end - chunk_begin, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = chunk_begin + begin; c < chunk_begin + end; ++c) {
      const int64_t offset = c * kChunkElements;
      const int64_t n = std::min(kChunkElements, numel - offset);
      fill_chunk_bf16(seed, name, init, c, out.subspan(static_cast<size_t>(offset - first), static_cast<size_t>(n)));
    }
  });
}

}  // namespace mixserve::tools
