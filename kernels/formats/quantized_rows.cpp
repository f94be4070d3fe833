#include "kernels/formats/quantized_rows.h"

#include <string>

namespace mixserve {
namespace {

bool sliceable(const QuantizedWeight& w) {
  return w.layout == WeightLayout::row_major &&
         (w.format == WeightFormat::int8 || w.format == WeightFormat::int4 || w.format == WeightFormat::fp8_e4m3);
}

int64_t row_bytes(const QuantizedWeight& w) {
  return w.format == WeightFormat::int4 ? w.n_groups() * w.group_size / 2 : w.k;  // int4: k padded to groups
}

// Scale (and zero) values per row: one per group for int4, one per channel otherwise.
int64_t params_per_row(const QuantizedWeight& w) { return w.format == WeightFormat::int4 ? w.n_groups() : 1; }

Status check_sizes(const QuantizedWeight& w) {
  if (!sliceable(w))
    return invalid_argument(std::string("quantized slicing takes row-major int8, int4 or fp8 weights, got ") +
                            weight_format_name(w.format));
  const bool sizes_ok = static_cast<int64_t>(w.data.size()) == w.n * row_bytes(w) &&
                        static_cast<int64_t>(w.scales.size()) == w.n * params_per_row(w) &&
                        (w.format != WeightFormat::int4 || w.zeros.size() == w.scales.size());
  if (!sizes_ok) return invalid_argument("quantized weight arrays do not match its shape");
  return Status::ok_status();
}

template <typename T>
void append_rows(std::vector<T>& dst, const std::vector<T>& src, int64_t per_row, int64_t begin, int64_t count) {
  dst.insert(dst.end(), src.begin() + begin * per_row, src.begin() + (begin + count) * per_row);
}

}  // namespace

Result<QuantizedWeight> quantized_rows(const QuantizedWeight& w, int64_t begin, int64_t count) {
  MIXSERVE_RETURN_IF_ERROR(check_sizes(w));
  if (begin < 0 || count < 0 || begin + count > w.n)
    return invalid_argument("rows [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                            ") outside a weight of " + std::to_string(w.n) + " rows");
  QuantizedWeight out{.format = w.format, .layout = w.layout, .n = count, .k = w.k, .group_size = w.group_size};
  append_rows(out.data, w.data, row_bytes(w), begin, count);
  append_rows(out.scales, w.scales, params_per_row(w), begin, count);
  if (w.format == WeightFormat::int4) append_rows(out.zeros, w.zeros, params_per_row(w), begin, count);
  return out;
}

Result<QuantizedWeight> quantized_cols(const QuantizedWeight& w, int64_t begin, int64_t count) {
  MIXSERVE_RETURN_IF_ERROR(check_sizes(w));
  if (begin < 0 || count < 1 || begin + count > w.k)
    return invalid_argument("columns [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                            ") outside a weight of " + std::to_string(w.k) + " columns");
  QuantizedWeight out{.format = w.format, .layout = w.layout, .n = w.n, .k = count, .group_size = w.group_size};
  if (w.format != WeightFormat::int4) {  // per-channel scales: every row keeps its scale
    out.scales = w.scales;
    out.data.reserve(static_cast<size_t>(w.n * count));
    for (int64_t r = 0; r < w.n; ++r)
      out.data.insert(out.data.end(), w.data.begin() + r * w.k + begin, w.data.begin() + r * w.k + begin + count);
    return out;
  }
  const int64_t g = w.group_size;
  if (begin % g != 0 || (count % g != 0 && begin + count != w.k))
    return invalid_argument("int4 columns [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                            ") do not cover whole groups of " + std::to_string(g) +
                            " (the shard's input size must be a multiple of the group size)");
  const int64_t g_begin = begin / g, g_count = out.n_groups(), in_row = row_bytes(w), out_row = g_count * g / 2;
  for (int64_t r = 0; r < w.n; ++r) {
    const auto row = w.data.begin() + r * in_row + begin / 2;  // begin is even: whole bytes
    out.data.insert(out.data.end(), row, row + out_row);
    const auto params = static_cast<size_t>(r * w.n_groups() + g_begin);
    out.scales.insert(out.scales.end(), w.scales.begin() + params, w.scales.begin() + params + g_count);
    out.zeros.insert(out.zeros.end(), w.zeros.begin() + params, w.zeros.begin() + params + g_count);
  }
  return out;
}

Result<QuantizedWeight> concat_quantized_rows(const std::vector<const QuantizedWeight*>& parts) {
  if (parts.empty()) return invalid_argument("concat_quantized_rows: no parts");
  const QuantizedWeight& first = *parts[0];
  QuantizedWeight out{.format = first.format, .layout = first.layout, .n = 0, .k = first.k,
                      .group_size = first.group_size};
  for (const QuantizedWeight* p : parts) {
    MIXSERVE_RETURN_IF_ERROR(check_sizes(*p));
    if (p->format != first.format || p->k != first.k || p->group_size != first.group_size)
      return invalid_argument("concat_quantized_rows: parts differ in format, k or group size");
    out.n += p->n;
    out.data.insert(out.data.end(), p->data.begin(), p->data.end());
    out.scales.insert(out.scales.end(), p->scales.begin(), p->scales.end());
    out.zeros.insert(out.zeros.end(), p->zeros.begin(), p->zeros.end());
  }
  return out;
}

}  // namespace mixserve
