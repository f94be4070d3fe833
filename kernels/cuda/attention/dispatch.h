#pragma once
// The explicit list of instantiated (K format, V format, head_dim) combinations, shared by the decode and
// prefill launchers: a lookup that misses returns an error naming the combination.
#include <string>

#include "core/status.h"
#include "kernels/formats/kv_format.h"

namespace mixserve::cuda::attn {

// Calls fn.template operator()<K, V, D>() for the matching instantiation; X-macro lists every pair once.
#define MIXSERVE_ATTN_FORMATS(X, D) \
  X(f16, f16, D) X(f16, bf16, D) X(f16, fp8_e4m3, D) X(f16, int8, D) X(f16, int4, D) \
  X(bf16, f16, D) X(bf16, bf16, D) X(bf16, fp8_e4m3, D) X(bf16, int8, D) X(bf16, int4, D) \
  X(fp8_e4m3, f16, D) X(fp8_e4m3, bf16, D) X(fp8_e4m3, fp8_e4m3, D) X(fp8_e4m3, int8, D) X(fp8_e4m3, int4, D) \
  X(int8, f16, D) X(int8, bf16, D) X(int8, fp8_e4m3, D) X(int8, int8, D) X(int8, int4, D) \
  X(int4, f16, D) X(int4, bf16, D) X(int4, fp8_e4m3, D) X(int4, int8, D) X(int4, int4, D)

template <typename Fn>
Status dispatch_kv(KvFormat k, KvFormat v, int head_dim, const char* op, Fn&& fn) {
#define MIXSERVE_ATTN_CASE(KF, VF, D)                                       \
  if (k == KvFormat::KF && v == KvFormat::VF && head_dim == D) {           \
    return fn.template operator()<KvFormat::KF, KvFormat::VF, D>();        \
  }
  MIXSERVE_ATTN_FORMATS(MIXSERVE_ATTN_CASE, 64)
  MIXSERVE_ATTN_FORMATS(MIXSERVE_ATTN_CASE, 128)
#undef MIXSERVE_ATTN_CASE
  return unsupported(std::string(op) + ": no kernel for K " + kv_format_name(k) + ", V " + kv_format_name(v) +
                       ", head_dim " + std::to_string(head_dim) +
                       " (supported: K and V in fp16, bf16, fp8, int8, int4; head_dim 64 or 128)");
}

}  // namespace mixserve::cuda::attn
