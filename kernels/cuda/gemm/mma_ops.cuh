#pragma once
// The instructions the weight-only GEMM is built from: cp.async, ldmatrix, mma.sync m16n8k16 and the
// register dequantization of the packed int4/int8 layout (kernels/formats/packed_weight.h).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace mixserve::cuda::gemm {

template <typename T>
constexpr bool kIsBf16 = false;
template <>
constexpr bool kIsBf16<__nv_bfloat16> = true;

template <int kLut>
__device__ __forceinline__ uint32_t lop3(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, %4;" : "=r"(d) : "r"(a), "r"(b), "r"(c), "n"(kLut));
  return d;
}

__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t selector) {
  uint32_t d;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(selector));
  return d;
}

// Streaming weights: read once per block, so keep them out of L1.
__device__ __forceinline__ uint4 load_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

__device__ __forceinline__ void cp_async_16(void* smem, const void* global, bool valid) {
  const uint32_t dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int src_bytes = valid ? 16 : 0;  // 0: fill the 16 bytes with zeros, read nothing
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(global), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ void lds_128(uint32_t (&r)[4], const void* smem) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}

// d += a (16x16, row) * b (16x8, col), fp32 accumulators.
template <typename T>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (kIsBf16<T>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

template <typename T>
__device__ __forceinline__ uint32_t sub2(uint32_t a, uint32_t b) {
  using T2 = std::conditional_t<kIsBf16<T>, __nv_bfloat162, __half2>;
  T2 r = __hsub2(*reinterpret_cast<const T2*>(&a), *reinterpret_cast<const T2*>(&b));
  return *reinterpret_cast<uint32_t*>(&r);
}
template <typename T>
__device__ __forceinline__ uint32_t mul2(uint32_t a, uint32_t b) {
  using T2 = std::conditional_t<kIsBf16<T>, __nv_bfloat162, __half2>;
  T2 r = __hmul2(*reinterpret_cast<const T2*>(&a), *reinterpret_cast<const T2*>(&b));
  return *reinterpret_cast<uint32_t*>(&r);
}

// int4: register j of one 16x16 step from the step's 32-bit word. OR-ing the nibble into the mantissa of
// 1024 (fp16 0x6400) or 128 (bf16 0x4300) gives magic + q exactly; subtracting magic + z (precomputed per
// group, exact for integer zeros) gives q - z exactly; one multiply by the scale rounds once.
//   zz_lo/ss_lo: {magic + z, scale} of row g (both halves), zz_hi/ss_hi: of row g + 8.
template <typename T>
__device__ __forceinline__ void dequant_int4_step(uint32_t word, uint32_t zz_lo, uint32_t ss_lo, uint32_t zz_hi,
                                                  uint32_t ss_hi, uint32_t (&a)[4]) {
  constexpr uint32_t kMagic = kIsBf16<T> ? 0x43004300u : 0x64006400u;
  constexpr int kAndOr = (0xF0 & 0xCC) | 0xAA;  // (a & b) | c
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const uint32_t raw = lop3<kAndOr>(word >> (4 * j), 0x000F000Fu, kMagic);
    a[j] = mul2<T>(sub2<T>(raw, (j & 1) ? zz_hi : zz_lo), (j & 1) ? ss_hi : ss_lo);
  }
}

// Two e4m3 codes (low byte -> low half) to their exact fp16 values. sm_89+ has the instruction; the sm_80
// build places sign, exponent and mantissa into fp16's fields (the value times 2^-8, fp16 subnormals included)
// and multiplies by 2^8, which is exact.
__device__ __forceinline__ uint32_t e4m3x2_to_f16x2(uint32_t two_codes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  uint32_t d;
  asm("{\n .reg .b16 c;\n cvt.u16.u32 c, %1;\n cvt.rn.f16x2.e4m3x2 %0, c;\n}" : "=r"(d) : "r"(two_codes));
  return d;
#else
  const uint32_t t = prmt(two_codes, 0, 0x1404);  // code 0 -> bits 8-15, code 1 -> bits 24-31
  const uint32_t bits = (t & 0x80008000u) | ((t >> 1) & 0x3F803F80u);
  return mul2<__half>(bits, 0x5C005C00u);  // * 256 in both halves
#endif
}

// int8: the two 32-bit words of one step (word0: registers 0 and 1, word1: registers 2 and 3) to q exactly;
// the per-channel scale is applied to the fp32 accumulators in the epilogue.
template <typename T>
__device__ __forceinline__ void dequant_int8_step(uint32_t word0, uint32_t word1, uint32_t (&a)[4]) {
  const uint32_t x0 = word0 ^ 0x80808080u, x1 = word1 ^ 0x80808080u;  // u = q + 128 in each byte
  if constexpr (!kIsBf16<T>) {
    // fp16 0x64uu = 1024 + u; minus 1152 = q.
    constexpr uint32_t kBias = 0x64806480u;
    a[0] = sub2<T>(prmt(x0, 0x64646464u, 0x5140u), kBias);
    a[1] = sub2<T>(prmt(x0, 0x64646464u, 0x7362u), kBias);
    a[2] = sub2<T>(prmt(x1, 0x64646464u, 0x5140u), kBias);
    a[3] = sub2<T>(prmt(x1, 0x64646464u, 0x7362u), kBias);
  } else {
    // bf16 has 8 significant bits, too few for 1024 + u: go through fp32 2^23 + u, then pack two to bf16x2.
    const uint32_t xs[2] = {x0, x1};
#pragma unroll
    for (int w = 0; w < 2; ++w) {
      float f[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) f[i] = __uint_as_float(prmt(xs[w], 0x4B000000u, 0x7440u + i)) - 8388736.0f;
      __nv_bfloat162 lo = __floats2bfloat162_rn(f[0], f[1]), hi = __floats2bfloat162_rn(f[2], f[3]);
      a[2 * w] = *reinterpret_cast<uint32_t*>(&lo);
      a[2 * w + 1] = *reinterpret_cast<uint32_t*>(&hi);
    }
  }
}

}  // namespace mixserve::cuda::gemm
