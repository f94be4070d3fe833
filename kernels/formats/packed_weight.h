#pragma once
// The tensor-core packed layout (WeightLayout::mma_v1) of int4 and int8 weights, consumed by the CUDA GEMM
// (kernels/cuda/gemm/) and, through dequantize_rows(), by the CPU reference.
//
// The GEMM computes y^T = W x^T with the weights as the A operand of mma.sync.m16n8k16 (16 output channels
// by 16 input channels per tile) and the tokens as B (8 per tile). For lane l = 4 g + t of a warp, A register
// j in 0..3 holds the two consecutive input channels k = 2 t + 8 (j >> 1) + {0, 1} of row g + 8 (j & 1).
//
// Padding: n_pad = n rounded up to 16, k_pad = k rounded up to max(64, group_size). Padded rows and columns
// hold q = 0 (int4: with scale 0 and zero 0 in the GPU scale array), so they contribute exactly 0.
//
// int4 (version 1): one 16-byte word per lane per (16-row tile, 64-column chunk):
//   byte offset ((tile * n_chunks + chunk) * 32 + lane) * 16 + 4 * step + nibble / 2, bits 4 * (nibble & 1),
//   step = (k % 64) / 16, nibble = j + 4 e for element e of register j.
//   So `(word >> 4 j) & 0x000f000f` puts register j's two values in the low bits of both 16-bit halves, and
//   OR-ing the exponent bits of 1024 (fp16) or 128 (bf16) makes them floats in one lop3.
// int8 (version 1): two 16-byte words per lane per (tile, chunk):
//   byte offset (((tile * n_chunks + chunk) * 2 + step / 2) * 32 + lane) * 16 + 4 * (2 (step & 1) + j / 2)
//               + 2 (j & 1) + e, q stored as int8 (two's complement).
// Scales and zeros stay in QuantizedWeight's [n][n_groups] float arrays (exact fp16 values); the GPU upload
// builds its scale array from them (kernels/cuda/gemm/gemm.h).
#include <cstdint>

#include "kernels/formats/weight_format.h"

namespace mixserve {

constexpr int kPackedTileRows = 16;
constexpr int kPackedChunkCols = 64;

int64_t packed_n(int64_t n);
int64_t packed_k(int64_t k, int group_size);  // group_size 0 (int8) means max(64, 0) = 64
// Byte of the packed data that holds element (row, col), and for int4 the bit shift of its nibble.
struct PackedPosition {
  int64_t byte = 0;
  int shift = 0;
};
PackedPosition packed_position(WeightFormat format, int64_t n_chunks, int64_t row, int64_t col);

// Reorders a row_major int4 or int8 weight into mma_v1 (scales and zeros are copied as they are).
Result<QuantizedWeight> pack_for_tensor_cores(const QuantizedWeight& row_major);
// The inverse: mma_v1 back to row_major, byte for byte equal to what was packed.
QuantizedWeight unpack_to_row_major(const QuantizedWeight& packed);
// dequantize_rows() for the mma_v1 layout (called by it).
void dequantize_packed_rows(const QuantizedWeight& w, int64_t row_begin, int64_t row_end, float* out);

}  // namespace mixserve
