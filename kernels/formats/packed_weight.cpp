#include "kernels/formats/packed_weight.h"

#include <algorithm>

#include "core/check.h"

namespace mixserve {
namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

int64_t row_major_int4_row_bytes(const QuantizedWeight& w) { return w.n_groups() * w.group_size / 2; }

int read_row_major(const QuantizedWeight& w, int64_t row, int64_t col) {
  if (w.format == WeightFormat::int8) return static_cast<int8_t>(w.data[row * w.k + col]);
  const uint8_t byte = w.data[row * row_major_int4_row_bytes(w) + col / 2];
  return (col & 1) ? byte >> 4 : byte & 0xF;
}

int read_packed(const QuantizedWeight& w, int64_t n_chunks, int64_t row, int64_t col) {
  const PackedPosition pos = packed_position(w.format, n_chunks, row, col);
  if (w.format == WeightFormat::int8) return static_cast<int8_t>(w.data[pos.byte]);
  return (w.data[pos.byte] >> pos.shift) & 0xF;
}

}  // namespace

int64_t packed_n(int64_t n) { return round_up(n, kPackedTileRows); }
int64_t packed_k(int64_t k, int group_size) {
  return round_up(k, std::max<int64_t>(kPackedChunkCols, group_size));
}

PackedPosition packed_position(WeightFormat format, int64_t n_chunks, int64_t row, int64_t col) {
  const int64_t tile = row / 16, chunk = col / 64;
  const int rr = static_cast<int>(row % 16), kk = static_cast<int>(col % 64);
  const int step = kk / 16, kin = kk % 16;
  const int g = rr % 8, t = (kin % 8) / 2, e = kin % 2;
  const int j = rr / 8 + 2 * (kin / 8);
  const int lane = 4 * g + t;
  if (format == WeightFormat::int4) {
    const int nibble = j + 4 * e;
    return {.byte = ((tile * n_chunks + chunk) * 32 + lane) * 16 + 4 * step + nibble / 2, .shift = 4 * (nibble & 1)};
  }
  MIXSERVE_CHECK(format == WeightFormat::int8);
  return {.byte = (((tile * n_chunks + chunk) * 2 + step / 2) * 32 + lane) * 16 + 4 * (2 * (step & 1) + j / 2) +
                  2 * (j & 1) + e};
}

Result<QuantizedWeight> pack_for_tensor_cores(const QuantizedWeight& w) {
  if (w.layout != WeightLayout::row_major) return invalid_argument("pack_for_tensor_cores: weight is already packed");
  if (w.format != WeightFormat::int4 && w.format != WeightFormat::int8) {
    return invalid_argument(std::string("pack_for_tensor_cores: no packed layout for ") + weight_format_name(w.format));
  }
  const int64_t n_pad = packed_n(w.n), k_pad = packed_k(w.k, w.group_size);
  const int64_t n_chunks = k_pad / kPackedChunkCols;
  QuantizedWeight out{.format = w.format, .layout = WeightLayout::mma_v1, .n = w.n, .k = w.k,
                      .group_size = w.group_size, .scales = w.scales, .zeros = w.zeros};
  const int64_t bytes = w.format == WeightFormat::int4 ? n_pad * k_pad / 2 : n_pad * k_pad;
  out.data.assign(static_cast<size_t>(bytes), 0);
  // Columns [k, k_pad) stay 0: for int4 they may lie in groups that have no scale, which the GPU scale array
  // pads with scale 0; the CPU side never reads them.
  for (int64_t r = 0; r < w.n; ++r) {
    for (int64_t c = 0; c < w.k; ++c) {
      const int q = read_row_major(w, r, c);
      const PackedPosition pos = packed_position(w.format, n_chunks, r, c);
      if (w.format == WeightFormat::int8) {
        out.data[pos.byte] = static_cast<uint8_t>(static_cast<int8_t>(q));
      } else {
        out.data[pos.byte] |= static_cast<uint8_t>(q << pos.shift);
      }
    }
  }
  return out;
}

QuantizedWeight unpack_to_row_major(const QuantizedWeight& p) {
  MIXSERVE_CHECK(p.layout == WeightLayout::mma_v1);
  const int64_t n_chunks = packed_k(p.k, p.group_size) / kPackedChunkCols;
  QuantizedWeight out{.format = p.format, .layout = WeightLayout::row_major, .n = p.n, .k = p.k,
                      .group_size = p.group_size, .scales = p.scales, .zeros = p.zeros};
  if (p.format == WeightFormat::int8) {
    out.data.resize(static_cast<size_t>(p.n * p.k));
    for (int64_t r = 0; r < p.n; ++r)
      for (int64_t c = 0; c < p.k; ++c)
        out.data[r * p.k + c] = static_cast<uint8_t>(static_cast<int8_t>(read_packed(p, n_chunks, r, c)));
    return out;
  }
  const int64_t row_bytes = row_major_int4_row_bytes(p);
  out.data.assign(static_cast<size_t>(p.n * row_bytes), 0);
  for (int64_t r = 0; r < p.n; ++r) {
    for (int64_t c = 0; c < row_bytes * 2; ++c) {
      // Row-major int4 pads the last group with q = z (it dequantizes to 0); mma_v1 does not store those.
      const int q = c < p.k ? read_packed(p, n_chunks, r, c)
                            : static_cast<int>(p.zeros[r * p.n_groups() + c / p.group_size]);
      out.data[r * row_bytes + c / 2] |= static_cast<uint8_t>((c & 1) ? q << 4 : q);
    }
  }
  return out;
}

void dequantize_packed_rows(const QuantizedWeight& w, int64_t row_begin, int64_t row_end, float* out) {
  MIXSERVE_CHECK(w.layout == WeightLayout::mma_v1);
  MIXSERVE_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= w.n);
  const int64_t n_chunks = packed_k(w.k, w.group_size) / kPackedChunkCols;
  const int64_t n_groups = w.n_groups();
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* row_out = out + (r - row_begin) * w.k;  // [k]
    if (w.format == WeightFormat::int8) {
      for (int64_t c = 0; c < w.k; ++c) row_out[c] = static_cast<float>(read_packed(w, n_chunks, r, c)) * w.scales[r];
      continue;
    }
    MIXSERVE_CHECK(w.format == WeightFormat::int4);
    for (int64_t c = 0; c < w.k; ++c) {
      const int64_t g = r * n_groups + c / w.group_size;
      row_out[c] = (static_cast<float>(read_packed(w, n_chunks, r, c)) - w.zeros[g]) * w.scales[g];
    }
  }
}

}  // namespace mixserve
