#pragma once
// Embedding gather: out[i] = table[ids[i]] as f32.
#include <cstdint>

#include "core/status.h"
#include "kernels/formats/weight_format.h"

namespace mixserve::cpu {

struct EmbeddingParams {
  const QuantizedWeight* table = nullptr;  // [vocab][hidden], any WeightFormat
  const int32_t* ids = nullptr;            // [n_tokens]
  float* out = nullptr;                    // [n_tokens][hidden]
  int64_t n_tokens = 0;
};
// out_of_range naming the id when an id is outside [0, vocab).
Status embedding(const EmbeddingParams& p);

}  // namespace mixserve::cpu
