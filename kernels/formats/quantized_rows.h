#pragma once
// Row and column slices and row concatenation of row-major quantized weights (int8, int4, fp8), exact: the
// bytes, scales and zeros are copied, nothing is re-quantized. The loader uses them to shard and fuse
// pre-quantized checkpoints (`mixserve quantize` output) the way it shards and fuses float weights.
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "kernels/formats/weight_format.h"

namespace mixserve {

// Rows [begin, begin + count).
Result<QuantizedWeight> quantized_rows(const QuantizedWeight& w, int64_t begin, int64_t count);
// Input columns [begin, begin + count). int4: begin must start a group, and the slice must end at a group
// boundary or at k, because scales and zeros belong to whole groups.
Result<QuantizedWeight> quantized_cols(const QuantizedWeight& w, int64_t begin, int64_t count);
// [a; b; ...]: the same format, k and group size.
Result<QuantizedWeight> concat_quantized_rows(const std::vector<const QuantizedWeight*>& parts);

}  // namespace mixserve
