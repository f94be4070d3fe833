#include "kernels/cuda/gemm/fp8_cublaslt.h"

#include <cublasLt.h>

#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace mixserve::cuda {

struct Fp8LtAlgo {
  int64_t n = 0, k_pad = 0;
  int m = 0;
  ActDtype out = ActDtype::f16;
  cublasLtMatmulAlgo_t algo{};
};

namespace {

Status lt_status(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return {};
  return internal_error(std::string("cuBLASLt ") + what + " failed: " + cublasLtGetStatusName(st) + " (" +
                        cublasLtGetStatusString(st) + ")");
}

Result<cublasLtHandle_t> lt_handle() {
  // One handle for the process: it holds no stream or workspace, and cuBLASLt handles may be shared by threads.
  static cublasLtHandle_t handle = nullptr;
  static cublasStatus_t status = [] { return cublasLtCreate(&handle); }();
  MIXSERVE_RETURN_IF_ERROR(lt_status(status, "create"));
  return handle;
}

// The descriptors of one GEMM, in cuBLASLt's column-major terms: D (n x m, ld n) = op(A) op(B) with
// A = the weights read as k_pad x n (so op T gives n x k_pad) and B = the codes as k_pad x m; that is row-major
// y[m][n]. fp8 on Hopper needs exactly this "TN" form.
struct LtDescs {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  LtDescs() = default;
  LtDescs(const LtDescs&) = delete;
  LtDescs& operator=(const LtDescs&) = delete;
  ~LtDescs() {
    if (op) cublasLtMatmulDescDestroy(op);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (d) cublasLtMatrixLayoutDestroy(d);
  }
};

template <typename V>
Status set_attr(cublasLtMatmulDesc_t op, cublasLtMatmulDescAttributes_t attr, const V& value) {
  return lt_status(cublasLtMatmulDescSetAttribute(op, attr, &value, sizeof(value)), "set matmul attribute");
}

Status make_descs(LtDescs& ds, int64_t n, int64_t k_pad, int m, ActDtype out) {
  MIXSERVE_RETURN_IF_ERROR(lt_status(cublasLtMatmulDescCreate(&ds.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "desc create"));
  MIXSERVE_RETURN_IF_ERROR(set_attr(ds.op, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T));
  MIXSERVE_RETURN_IF_ERROR(set_attr(ds.op, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N));
  const int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
  MIXSERVE_RETURN_IF_ERROR(set_attr(ds.op, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, mode));
  MIXSERVE_RETURN_IF_ERROR(set_attr(ds.op, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, mode));
  const cudaDataType out_type = out == ActDtype::bf16 ? CUDA_R_16BF : CUDA_R_16F;
  MIXSERVE_RETURN_IF_ERROR(
      lt_status(cublasLtMatrixLayoutCreate(&ds.a, CUDA_R_8F_E4M3, k_pad, n, k_pad), "layout A"));
  MIXSERVE_RETURN_IF_ERROR(
      lt_status(cublasLtMatrixLayoutCreate(&ds.b, CUDA_R_8F_E4M3, k_pad, m, k_pad), "layout B"));
  return lt_status(cublasLtMatrixLayoutCreate(&ds.d, out_type, n, m, n), "layout D");
}

// cuBLASLt validates outer-vector scaling only with scale pointers set (the heuristic answers INVALID_VALUE
// without them), so the query gets a placeholder device buffer; runs set the real ones.
Result<const float*> placeholder_scales() {
  static float* buffer = nullptr;
  static cudaError_t status = [] { return cudaMalloc(&buffer, 256); }();
  if (status != cudaSuccess) return internal_error(std::string("cudaMalloc: ") + cudaGetErrorString(status));
  return static_cast<const float*>(buffer);
}

struct AlgoCache {
  std::mutex mu;
  std::map<std::tuple<int64_t, int64_t, int, int>, std::shared_ptr<const Fp8LtAlgo>> algos;
};

}  // namespace

Result<std::shared_ptr<const Fp8LtAlgo>> find_fp8_lt_algo(int64_t n, int64_t k_pad, int m, ActDtype out) {
  static AlgoCache cache;
  const auto key = std::make_tuple(n, k_pad, m, static_cast<int>(out));
  std::lock_guard lock(cache.mu);
  if (auto it = cache.algos.find(key); it != cache.algos.end()) return it->second;
  MIXSERVE_ASSIGN_OR_RETURN(cublasLtHandle_t handle, lt_handle());
  LtDescs ds;
  MIXSERVE_RETURN_IF_ERROR(make_descs(ds, n, k_pad, m, out));
  MIXSERVE_ASSIGN_OR_RETURN(const float* placeholder, placeholder_scales());
  MIXSERVE_RETURN_IF_ERROR(set_attr(ds.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, placeholder));
  MIXSERVE_RETURN_IF_ERROR(set_attr(ds.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, placeholder));
  cublasLtMatmulPreference_t pref = nullptr;
  MIXSERVE_RETURN_IF_ERROR(lt_status(cublasLtMatmulPreferenceCreate(&pref), "preference create"));
  const uint64_t max_ws = kFp8LtWorkspaceBytes;
  const uint32_t align_y = 16;  // y may be any 16-byte aligned slice; our own buffers are 256-byte aligned
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws, sizeof(max_ws));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_y, sizeof(align_y));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_y, sizeof(align_y));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t st =
      cublasLtMatmulAlgoGetHeuristic(handle, ds.op, ds.a, ds.b, ds.d, ds.d, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st != CUBLAS_STATUS_SUCCESS || found == 0) {
    return unsupported("cuBLASLt has no fp8 GEMM with per-token x per-channel scales for n " + std::to_string(n) +
                       ", k " + std::to_string(k_pad) + ", m " + std::to_string(m) + " on this GPU (" +
                       cublasLtGetStatusName(st) + ")");
  }
  auto algo = std::make_shared<Fp8LtAlgo>(Fp8LtAlgo{.n = n, .k_pad = k_pad, .m = m, .out = out, .algo = result.algo});
  cache.algos.emplace(key, algo);
  return std::shared_ptr<const Fp8LtAlgo>(algo);
}

Status run_fp8_lt(const Fp8LtAlgo& algo, const Fp8LtArgs& args) {
  if (reinterpret_cast<uintptr_t>(args.y) % 16 != 0) return invalid_argument("fp8 GEMM: y must be 16-byte aligned");
  MIXSERVE_ASSIGN_OR_RETURN(cublasLtHandle_t handle, lt_handle());
  LtDescs ds;  // a few host allocations; the scale pointers change from run to run
  MIXSERVE_RETURN_IF_ERROR(make_descs(ds, algo.n, algo.k_pad, algo.m, algo.out));
  MIXSERVE_RETURN_IF_ERROR(set_attr(ds.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, args.w_scales));
  MIXSERVE_RETURN_IF_ERROR(set_attr(ds.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, args.x_scales));
  const float alpha = 1.0f, beta = 0.0f;
  return lt_status(cublasLtMatmul(handle, ds.op, &alpha, args.w_codes, ds.a, args.x_codes, ds.b, &beta, args.y, ds.d,
                                  args.y, ds.d, &algo.algo, args.workspace, kFp8LtWorkspaceBytes, args.stream),
                   "matmul");
}

}  // namespace mixserve::cuda
