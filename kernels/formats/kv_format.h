#pragma once
// The paged KV cache layout, shared by the CPU reference and the CUDA kernels.
//
// The cache of one layer is two pools, K and V, each in its own format. A pool holds n_blocks blocks of
// block_size tokens (a power of two, 64 by default). Inside a pool:
//   data:   [n_blocks][n_kv_heads][block_size][row_bytes]   row_bytes = head_dim * bits / 8
//           int4 packs two values per byte, even index in the low nibble.
//   params: [n_blocks][n_kv_heads][block_size][2] fp16 bits (scale, zero), int8 and int4 only.
// Quantization of one (token, head) row x[0..head_dim):
//   fp32: stored as is.
//   fp16/bf16: round to nearest even.
//   fp8 e4m3: x / s rounded to e4m3 with saturation, s a per-pool scale (1.0 unless calibrated); no params.
//   int8/int4: lo = min(x), hi = max(x); scale = fp16((hi - lo) / qmax), zero = fp16(lo), qmax 255 or 15;
//              q = clamp(round((x - zero) / scale), 0, qmax) (q = 0 when scale == 0); x' = q * scale + zero.
// Sequences find their tokens through a block table: token position p lives in block table[p / block_size],
// slot p % block_size.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace mixserve {

// f32 is the unquantized reference cache (CPU engine tests and perplexity baselines); the GPU kernels take
// the other five.
enum class KvFormat { f32, f16, bf16, fp8_e4m3, int8, int4 };
const char* kv_format_name(KvFormat format);
Result<KvFormat> parse_kv_format(const std::string& name);  // "fp32", "fp16", "bf16", "fp8", "int8", "int4"
int kv_format_bits(KvFormat format);
bool kv_format_has_params(KvFormat format);  // int8, int4

struct KvPoolLayout {
  int64_t n_blocks = 0;
  int block_size = 64;
  int n_kv_heads = 0;
  int head_dim = 0;
  KvFormat format = KvFormat::f16;

  size_t row_bytes() const { return static_cast<size_t>(head_dim) * kv_format_bits(format) / 8; }
  size_t data_bytes() const { return static_cast<size_t>(n_blocks) * n_kv_heads * block_size * row_bytes(); }
  size_t param_count() const;  // fp16 values in the params array (0 for formats without params)
  // Index of (block, head, slot) among rows: data at row_index * row_bytes(), params at row_index * 2.
  size_t row_index(int64_t block, int head, int slot) const {
    return (static_cast<size_t>(block) * n_kv_heads + head) * block_size + slot;
  }
};

// One pool (the K or the V of one layer) in host memory for the CPU backend, device memory for CUDA.
struct KvPoolView {
  KvPoolLayout layout;
  uint8_t* data = nullptr;
  uint16_t* params = nullptr;  // fp16 bits; nullptr for formats without params
  float fp8_scale = 1.0f;
};

// Quantizes one row of head_dim values into (block, head, slot).
void kv_write_row(const KvPoolView& pool, int64_t block, int head, int slot, const float* x);
// Dequantizes one row into out[0..head_dim).
void kv_read_row(const KvPoolView& pool, int64_t block, int head, int slot, float* out);

}  // namespace mixserve
