#pragma once
// Element conversions done by the GPU's own instructions (cvt.rn.f16.f32, cvt.rn.bf16.f32,
// cvt.rn.satfinite.e4m3x2.f32). Tests hold core/float_convert.h (the CPU's bit-exact software conversions)
// against these, so the CPU reference and the CUDA kernels round identically.
#include <cstdint>
#include <vector>

#include "core/status.h"

namespace mixserve::cuda {

struct ConvertedBits {
  std::vector<uint16_t> fp16;
  std::vector<uint16_t> bf16;
  std::vector<uint8_t> fp8_e4m3;
};
// Converts every input on the GPU (device 0 or the current device).
Result<ConvertedBits> convert_on_device(const std::vector<float>& input);

// The reverse direction: widening every bit pattern on the GPU.
struct WidenedValues {
  std::vector<float> from_fp16;      // [65536]
  std::vector<float> from_bf16;      // [65536]
  std::vector<float> from_fp8_e4m3;  // [256]
};
Result<WidenedValues> widen_all_on_device();

}  // namespace mixserve::cuda
