#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "core/float_convert.h"
#include "kernels/cuda/common/cuda_check.h"
#include "kernels/cuda/gemm/gemm.h"
#include "kernels/formats/packed_weight.h"

namespace mixserve::cuda {
namespace {

uint16_t to_act_bits(float v, ActDtype act) {
  return act == ActDtype::bf16 ? fp32_to_bf16_bits(v) : fp32_to_fp16_bits(v);
}

// int4: per (16-row tile, group, g) the four 16-bit values {s[g], s[g + 8], magic + z[g], magic + z[g + 8]},
// in the activation dtype; magic is 1024 (fp16) or 128 (bf16), matching the exponent bits the kernel ORs in.
Result<std::vector<uint16_t>> int4_scale_array(const QuantizedWeight& w, ActDtype act, int64_t n_pad, int64_t k_pad) {
  const float magic = act == ActDtype::bf16 ? 128.0f : 1024.0f;
  const int64_t n_groups = w.n_groups(), n_groups_pad = k_pad / w.group_size;
  std::vector<uint16_t> out(static_cast<size_t>(n_pad / 16 * n_groups_pad * 8 * 4));
  for (int64_t tile = 0; tile < n_pad / 16; ++tile) {
    for (int64_t gi = 0; gi < n_groups_pad; ++gi) {
      for (int g = 0; g < 8; ++g) {
        uint16_t* dst = out.data() + ((tile * n_groups_pad + gi) * 8 + g) * 4;
        for (int half = 0; half < 2; ++half) {
          const int64_t row = tile * 16 + g + 8 * half;
          float s = 0, z = 0;
          if (row < w.n && gi < n_groups) {
            s = w.scales[row * n_groups + gi];
            z = w.zeros[row * n_groups + gi];
          }
          if (z != std::floor(z) || z < 0 || z > 15) {
            return invalid_argument("GPU int4 kernel needs integer zero points in [0, 15]; row " +
                                    std::to_string(row) + " group " + std::to_string(gi) + " has " +
                                    std::to_string(z));
          }
          dst[half] = to_act_bits(s, act);
          dst[2 + half] = to_act_bits(magic + z, act);
        }
      }
    }
  }
  return out;
}

Status copy_to_device(const void* host, size_t bytes, void** dev) {
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMalloc(dev, bytes));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemcpy(*dev, host, bytes, cudaMemcpyHostToDevice));
  return {};
}

// fp8 codes row-major, zero-padded to [n_pad][k_pad] (what both fp8 paths read; kernels/cuda/gemm/gemm.h).
std::vector<uint8_t> padded_fp8_codes(const QuantizedWeight& w, int64_t n_pad, int64_t k_pad) {
  std::vector<uint8_t> out(static_cast<size_t>(n_pad * k_pad), 0);
  for (int64_t r = 0; r < w.n; ++r) std::memcpy(out.data() + r * k_pad, w.data.data() + r * w.k, w.k);
  return out;
}

}  // namespace

const char* act_dtype_name(ActDtype dtype) { return dtype == ActDtype::bf16 ? "bf16" : "fp16"; }

Result<DeviceWeight> DeviceWeight::upload(const QuantizedWeight& w, ActDtype act) {
  const bool fp8 = w.format == WeightFormat::fp8_e4m3 && w.layout == WeightLayout::row_major;
  const bool packed =
      w.layout == WeightLayout::mma_v1 && (w.format == WeightFormat::int4 || w.format == WeightFormat::int8);
  if (!fp8 && !packed) {
    return invalid_argument("DeviceWeight::upload needs an int4 or int8 weight packed by pack_for_tensor_cores, "
                            "or a row-major fp8 weight");
  }
  if (fp8 && w.data.size() != static_cast<size_t>(w.n * w.k)) {
    return invalid_argument("DeviceWeight::upload: fp8 weight data is not [n][k] bytes");
  }
  DeviceWeight d;
  d.format = w.format;
  d.act = act;
  d.n = w.n;
  d.k = w.k;
  d.group_size = w.group_size;
  d.n_pad = packed_n(w.n);
  d.k_pad = packed_k(w.k, w.group_size);
  if (fp8) {
    const std::vector<uint8_t> codes = padded_fp8_codes(w, d.n_pad, d.k_pad);
    d.q_bytes = codes.size();
    MIXSERVE_RETURN_IF_ERROR(copy_to_device(codes.data(), d.q_bytes, &d.q));
  } else {
    d.q_bytes = w.data.size();
    MIXSERVE_RETURN_IF_ERROR(copy_to_device(w.data.data(), d.q_bytes, &d.q));
  }
  if (w.format == WeightFormat::int4) {
    MIXSERVE_ASSIGN_OR_RETURN(std::vector<uint16_t> s, int4_scale_array(w, act, d.n_pad, d.k_pad));
    d.scale_bytes = s.size() * 2;
    MIXSERVE_RETURN_IF_ERROR(copy_to_device(s.data(), d.scale_bytes, &d.scales));
  } else {  // int8, fp8: fp32 per channel
    std::vector<float> s(static_cast<size_t>(d.n_pad), 0.0f);
    std::memcpy(s.data(), w.scales.data(), w.scales.size() * sizeof(float));
    d.scale_bytes = s.size() * sizeof(float);
    MIXSERVE_RETURN_IF_ERROR(copy_to_device(s.data(), d.scale_bytes, &d.scales));
  }
  return d;
}

DeviceWeight& DeviceWeight::operator=(DeviceWeight&& o) noexcept {
  if (this != &o) {
    this->~DeviceWeight();
    format = o.format;
    act = o.act;
    n = o.n;
    k = o.k;
    n_pad = o.n_pad;
    k_pad = o.k_pad;
    group_size = o.group_size;
    q = std::exchange(o.q, nullptr);
    scales = std::exchange(o.scales, nullptr);
    q_bytes = o.q_bytes;
    scale_bytes = o.scale_bytes;
  }
  return *this;
}

DeviceWeight::~DeviceWeight() {
  if (q) cudaFree(q);  // errors at teardown have no one to report to
  if (scales) cudaFree(scales);
  q = scales = nullptr;
}

Result<GemmWorkspace> GemmWorkspace::create(size_t bytes) {
  GemmWorkspace ws;
  ws.bytes = bytes;
  if (bytes == 0) return ws;
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMalloc(&ws.data, bytes));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemset(ws.data, 0, bytes));  // the counters must start at zero
  return ws;
}

GemmWorkspace& GemmWorkspace::operator=(GemmWorkspace&& o) noexcept {
  if (this != &o) {
    if (data) cudaFree(data);
    data = o.data;
    bytes = o.bytes;
    o.data = nullptr;
    o.bytes = 0;
  }
  return *this;
}

GemmWorkspace::~GemmWorkspace() {
  if (data) cudaFree(data);
}

}  // namespace mixserve::cuda
