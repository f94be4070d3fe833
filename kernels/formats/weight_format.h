#pragma once
// Weight formats of linear layers and the layouts they are stored in.
//
// Definitions (y = x W^T, W is [n, k]: n output channels, k input channels):
//   f32/f16/bf16: dense.
//   int8: symmetric per output channel, w = q * s[n], q in [-127, 127] (-128 unused, so negation is exact).
//   int4: unsigned q in [0, 15]; groups of G consecutive input channels (G in {32, 64, 128}) share a scale and
//         zero: w = (q - z[n][g]) * s[n][g], g = k / G. RTN picks z and s from the group's min and max.
//   fp8_e4m3: W8A8. w = e4m3(q) * s[n], s = amax(row) / 448 (rounded up to fp16) per output channel; the linear
//         op also rounds each activation row to e4m3 with its own dynamic scale amax(x row) / 448 (per token),
//         as an fp8 tensor-core GEMM would (cpu::linear), so the reference carries both roundings.
// Scales (and int4 zeros) are stored as fp16 values, as the GPU kernels consume them; the reference keeps
// them as floats that are exactly fp16-representable.
//
// Layouts: where the bytes of q sit. `row_major` is the reference order below; the GPU's tensor-core fragment
// order (the GEMM issue) is another WeightLayout value handled by the same dequantize_rows() entry point, so
// the CPU reference consumes every packed layout and one set of tests proves both.
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace mixserve {

enum class WeightFormat { f32, f16, bf16, int8, int4, fp8_e4m3 };
const char* weight_format_name(WeightFormat format);
Result<WeightFormat> parse_weight_format(const std::string& name);  // "f32","fp16","bf16","int8","int4","fp8"

enum class WeightLayout {
  row_major,  // f32/f16/bf16/int8: element [n][k] at n*k_stride + k; int4: byte n*(k_padded/2) + k/2,
              // even k in the low nibble; k_padded rounds k up to the group size
  mma_v1,     // int4/int8 in mma.sync m16n8k16 A-fragment order for the CUDA GEMM (kernels/formats/packed_weight.h)
};

struct QuantizedWeight {
  WeightFormat format = WeightFormat::f32;
  WeightLayout layout = WeightLayout::row_major;
  int64_t n = 0;
  int64_t k = 0;
  int group_size = 0;         // int4 only
  std::vector<uint8_t> data;  // q or dense elements in `layout` order
  std::vector<float> scales;  // int8, fp8_e4m3: [n]; int4: [n][n_groups]
  std::vector<float> zeros;   // int4: [n][n_groups], in units of q (an integer for RTN, may be fractional)

  int64_t n_groups() const { return group_size ? (k + group_size - 1) / group_size : 0; }
  size_t bytes() const { return data.size() + 2 * (scales.size() + zeros.size()); }  // as stored on the GPU
};

// Dense weights from f32 values [n][k], stored in f32, f16 or bf16 (rounded to nearest even).
QuantizedWeight make_dense_weight(const float* w, int64_t n, int64_t k, WeightFormat format);
// Dense weights from raw f16/bf16/f32 bytes as found in a checkpoint (no rounding).
QuantizedWeight make_dense_weight_from_bytes(const uint8_t* bytes, int64_t n, int64_t k, WeightFormat format);
// Round-to-nearest quantization of f32 weights [n][k].
QuantizedWeight quantize_int8(const float* w, int64_t n, int64_t k);
QuantizedWeight quantize_int4(const float* w, int64_t n, int64_t k, int group_size);
QuantizedWeight quantize_fp8(const float* w, int64_t n, int64_t k);
// The per-token activation rounding of W8A8 fp8: row i of x [m][k] becomes e4m3(x / s_i) * s_i with
// s_i = amax(row i) / 448, in place.
void round_activations_to_fp8(float* x, int64_t m, int64_t k);
// Writes rows [row_begin, row_end) of W as f32 into out[(row - row_begin) * k + col].
void dequantize_rows(const QuantizedWeight& w, int64_t row_begin, int64_t row_end, float* out);
// The whole matrix, [n][k].
std::vector<float> dequantize(const QuantizedWeight& w);

}  // namespace mixserve
