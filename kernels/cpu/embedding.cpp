#include "kernels/cpu/embedding.h"

#include <string>

#include "core/check.h"

namespace mixserve::cpu {

Status embedding(const EmbeddingParams& p) {
  MIXSERVE_CHECK(p.table && p.out);
  MIXSERVE_CHECK(p.ids || p.n_tokens == 0);
  const int64_t vocab = p.table->n;
  const int64_t hidden = p.table->k;
  // Validate every id before writing, so a bad request leaves no half-written output behind.
  for (int64_t i = 0; i < p.n_tokens; ++i) {
    if (p.ids[i] < 0 || p.ids[i] >= vocab)
      return out_of_range("token id " + std::to_string(p.ids[i]) + " at position " + std::to_string(i) +
                          " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  }
  for (int64_t i = 0; i < p.n_tokens; ++i) dequantize_rows(*p.table, p.ids[i], p.ids[i] + 1, p.out + i * hidden);
  return Status::ok_status();
}

}  // namespace mixserve::cpu
