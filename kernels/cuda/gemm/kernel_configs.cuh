#pragma once
// The tile configurations, shared by the int4 and int8 tables (GemmConfig fields: id, block_m, warps,
// warp_tiles, chunks_per_stage (= prefetch depth), stages). Chosen by M bucket in plan_gemm():
//   0: M <= 8 (decode), 1: M <= 64, 2: M <= 256, 3: M <= 512, 4: larger M (prefill; prefetch 1 and 4 x
//   stages: with 128 accumulators per thread, deeper register prefetch spills); 5 and 6: M <= 8 with one tile per
//   warp (prefetch 4 and 8), chosen by the tuner where they win (benchmarks/RESULTS.md).
#include "kernels/cuda/gemm/kernel_table.h"
#include "kernels/cuda/gemm/wxa16_kernel.cuh"

namespace mixserve::cuda::gemm {

template <class Fmt, typename T, typename TY, int kId, int kBlockM, int kWarps, int kTiles, int kPrefetch,
          int kStages>
KernelEntry entry() {
  return {.kernel =
              reinterpret_cast<const void*>(&wxa16_kernel<Fmt, T, TY, kBlockM, kWarps, kTiles, kPrefetch, kStages>),
          .config = {.id = kId, .block_m = kBlockM, .warps = kWarps, .warp_tiles = kTiles,
                     .chunks_per_stage = kPrefetch, .stages = kStages}};
}

// T: x and MMA dtype; TY: y dtype (the same except for fp8, whose x is fp16 codes).
template <class Fmt, typename T, typename TY = T>
const KernelEntry* make_table() {
  static const KernelEntry table[kConfigCount] = {
      entry<Fmt, T, TY, 0, 8, 4, 2, 4, 3>(),  entry<Fmt, T, TY, 1, 16, 4, 2, 4, 3>(),
      entry<Fmt, T, TY, 2, 32, 4, 2, 2, 3>(), entry<Fmt, T, TY, 3, 64, 4, 2, 2, 3>(),
      entry<Fmt, T, TY, 4, 128, 8, 2, 1, 4>(),
      // Decode variants with one 16-row tile per warp: half the register ring, so more warps per SM.
      entry<Fmt, T, TY, 5, 8, 4, 1, 4, 3>(),  entry<Fmt, T, TY, 6, 8, 4, 1, 8, 3>(),
  };
  return table;
}

}  // namespace mixserve::cuda::gemm
