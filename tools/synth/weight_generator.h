#pragma once
// Deterministic pseudo-random weights. Every element is a pure function of (seed, tensor name, element index)
// through a generator written out here in full (FNV-1a, splitmix64, Box-Muller), so a checkpoint is
// byte-identical across runs, thread counts, compilers and standard libraries (std::normal_distribution is
// implementation-defined, so it is not used).
//
// A tensor is cut into fixed chunks of kChunkElements; each chunk draws from its own stream keyed by
// (seed, name, chunk index), so chunks can be generated on any thread in any order.
#include <cstdint>
#include <span>
#include <string_view>

namespace mixserve {
class ThreadPool;
}

namespace mixserve::tools {

// How a tensor's values are drawn.
struct WeightInit {
  enum class Kind { normal, one_plus_uniform };
  Kind kind = Kind::normal;
  // normal: the standard deviation (mean 0); one_plus_uniform: half-width h of the interval [1 - h, 1 + h).
  double scale = 1.0;
};

inline constexpr int64_t kChunkElements = int64_t{1} << 16;

// 64-bit FNV-1a of the bytes of `text`.
uint64_t fnv1a64(std::string_view text);
// The splitmix64 output function (Steele, Lea and Flood 2014): a bijective 64-bit mixer.
uint64_t splitmix64_mix(uint64_t z);
// The first state of the stream that generates chunk `chunk_index` of tensor `name`.
uint64_t chunk_stream_key(uint64_t seed, std::string_view name, int64_t chunk_index);

// splitmix64: tiny, fast, and good enough for initializing weights.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}
  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    return splitmix64_mix(state_);
  }
  // Uniform in [0, 1), from the top 53 bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// Writes chunk `chunk_index` of tensor `name` as bf16 bits (rounded to nearest even) into `out`, whose size is
// kChunkElements, or less for a tensor's last chunk.
void fill_chunk_bf16(uint64_t seed, std::string_view name, const WeightInit& init, int64_t chunk_index,
                     std::span<uint16_t> out);

// Writes chunks [chunk_begin, chunk_end) of a tensor of `numel` elements back to back into `out` (sized for
// exactly those elements), spreading the chunks over `pool`. The bytes do not depend on the pool's size.
void fill_chunks_bf16(uint64_t seed, std::string_view name, const WeightInit& init, int64_t numel,
                      int64_t chunk_begin, int64_t chunk_end, std::span<uint16_t> out, ThreadPool& pool);

}  // namespace mixserve::tools
