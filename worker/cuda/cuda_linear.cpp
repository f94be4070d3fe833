#include "worker/cuda/cuda_linear.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "kernels/cuda/common/cuda_check.h"
#include "kernels/formats/packed_weight.h"
#include "worker/cuda/activation_rows.h"

namespace mixserve {
namespace {

Status cublas_status(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return {};
  return internal_error(std::string(what) + " failed: " + cublasGetStatusName(st) + " (" + cublasGetStatusString(st) +
                        ")");
}

WeightFormat dense_format_of(cuda::ActDtype act) {
  return act == cuda::ActDtype::bf16 ? WeightFormat::bf16 : WeightFormat::f16;
}

std::string shape_of(const QuantizedWeight& w) {
  return std::string(weight_format_name(w.format)) + " [" + std::to_string(w.n) + ", " + std::to_string(w.k) + "]";
}

Result<cuda::DeviceWeight> upload_packed(const QuantizedWeight& w, cuda::ActDtype act) {
  if (w.k % 8 != 0) {
    return unsupported("CUDA linear: the int4/int8 GEMM needs k to be a multiple of 8; weight " + shape_of(w));
  }
  if (w.layout == WeightLayout::mma_v1) return cuda::DeviceWeight::upload(w, act);
  MIXSERVE_ASSIGN_OR_RETURN(QuantizedWeight packed, pack_for_tensor_cores(w));
  return cuda::DeviceWeight::upload(packed, act);
}

}  // namespace

Result<std::unique_ptr<CudaLinearWeight>> CudaLinearWeight::create(const QuantizedWeight& w,
                                                                   std::span<const float> bias, cuda::ActDtype act) {
  if (w.n <= 0 || w.k <= 0 || w.n > INT_MAX || w.k > INT_MAX)
    return invalid_argument("CUDA linear: weight shape out of range: " + shape_of(w));
  if (!bias.empty() && static_cast<int64_t>(bias.size()) != w.n)
    return invalid_argument("CUDA linear: bias has " + std::to_string(bias.size()) + " values for " + shape_of(w));
  std::unique_ptr<CudaLinearWeight> out(new CudaLinearWeight());
  out->format_ = w.format;
  out->act_ = act;
  out->n_ = w.n;
  out->k_ = w.k;
  switch (w.format) {
    case WeightFormat::int4:
    case WeightFormat::int8: {
      MIXSERVE_ASSIGN_OR_RETURN(cuda::DeviceWeight packed, upload_packed(w, act));
      out->packed_.emplace(std::move(packed));
      break;
    }
    case WeightFormat::f16:
    case WeightFormat::bf16: {
      if (w.format != dense_format_of(act)) {
        return unsupported(std::string("CUDA linear: a ") + weight_format_name(w.format) + " weight with " +
                           cuda::act_dtype_name(act) + " activations (cuBLAS needs one dtype; load the weights as " +
                           cuda::act_dtype_name(act) + " or quantize them)");
      }
      const size_t bytes = static_cast<size_t>(w.n) * w.k * 2;
      if (w.layout != WeightLayout::row_major || w.data.size() != bytes)
        return invalid_argument("CUDA linear: dense weight " + shape_of(w) + " is not a row-major [n][k] array");
      MIXSERVE_ASSIGN_OR_RETURN(out->dense_, cuda::DeviceBytes::upload(w.data.data(), bytes));
      break;
    }
    case WeightFormat::f32:
      return unsupported("CUDA linear: f32 weights are not run on the GPU (" + shape_of(w) +
                         "); load them as fp16/bf16 or quantize to int8/int4");
    case WeightFormat::fp8_e4m3: {
      if (w.k % 8 != 0) {
        return unsupported("CUDA linear: the fp8 GEMM needs k to be a multiple of 8; weight " + shape_of(w));
      }
      MIXSERVE_ASSIGN_OR_RETURN(cuda::DeviceWeight codes, cuda::DeviceWeight::upload(w, act));
      out->packed_.emplace(std::move(codes));
      break;
    }
  }
  if (!bias.empty()) {
    MIXSERVE_ASSIGN_OR_RETURN(out->bias_, cuda::DeviceBytes::upload(bias.data(), bias.size() * sizeof(float)));
  }
  return out;
}

size_t CudaLinearWeight::bytes() const {
  const size_t weight = packed_ ? packed_->q_bytes + packed_->scale_bytes : dense_.size();
  return weight + bias_.size();
}

Result<std::unique_ptr<CudaLinearContext>> CudaLinearContext::create(cudaStream_t stream,
                                                                     size_t gemm_workspace_bytes) {
  std::unique_ptr<CudaLinearContext> c(new CudaLinearContext());
  c->stream_ = stream;
  MIXSERVE_RETURN_IF_ERROR(cublas_status(cublasCreate(&c->cublas_), "cublasCreate"));
  MIXSERVE_RETURN_IF_ERROR(cublas_status(cublasSetStream(c->cublas_, stream), "cublasSetStream"));
  // A workspace of our own: cuBLAS then never allocates during a run (and runs can be graph-captured).
  MIXSERVE_ASSIGN_OR_RETURN(c->cublas_workspace_, cuda::DeviceBytes::allocate(kCublasWorkspaceBytes));
  MIXSERVE_RETURN_IF_ERROR(cublas_status(
      cublasSetWorkspace(c->cublas_, c->cublas_workspace_.get(), kCublasWorkspaceBytes), "cublasSetWorkspace"));
  MIXSERVE_ASSIGN_OR_RETURN(c->gemm_workspace_, cuda::GemmWorkspace::create(gemm_workspace_bytes));
  return c;
}

CudaLinearContext::~CudaLinearContext() {
  if (cublas_) cublasDestroy(cublas_);  // nothing to report to from a destructor
}

Result<cuda::GemmPlan> CudaLinearContext::gemm_plan(const CudaLinearWeight& w, int64_t m) const {
  if (!w.packed_) return invalid_argument("gemm_plan: this weight runs on cuBLAS");
  if (m < 1 || m > INT_MAX) return invalid_argument("gemm_plan: m out of range: " + std::to_string(m));
  const cuda::DeviceWeight& dw = *w.packed_;
  MIXSERVE_ASSIGN_OR_RETURN(cuda::GemmPlan plan, cuda::plan_gemm_tuned(dw, static_cast<int>(m), tune_cache_.get()));
  if (plan.workspace_bytes <= gemm_workspace_.bytes) return plan;
  if (plan.splits > 1) {
    // Too little workspace for the preferred split: the most splits whose fp32 partials fit beside the rest
    // (the counters' fixed region, fp8's quantized activations).
    const size_t m_pad = static_cast<size_t>(plan.m_blocks) * plan.config.block_m;
    const size_t per_split = m_pad * dw.n_pad * sizeof(float);
    const size_t rest = plan.workspace_bytes - per_split * plan.splits;
    const size_t fit = gemm_workspace_.bytes > rest ? (gemm_workspace_.bytes - rest) / per_split : 0;
    const int splits = fit >= 2 ? static_cast<int>(std::min<size_t>(fit, plan.splits)) : 1;
    MIXSERVE_ASSIGN_OR_RETURN(plan, cuda::plan_gemm(dw, static_cast<int>(m), plan.config.id, splits));
    if (plan.workspace_bytes <= gemm_workspace_.bytes) return plan;
  }
  if (plan.lt) {  // cuBLASLt's own workspace does not fit: our kernel needs less
    MIXSERVE_ASSIGN_OR_RETURN(plan, cuda::plan_gemm(dw, static_cast<int>(m), cuda::gemm_default_config(static_cast<int>(m)), 1));
    if (plan.workspace_bytes <= gemm_workspace_.bytes) return plan;
  }
  return Status(StatusCode::resource_exhausted, "gemm_plan: " + std::to_string(m) + " rows need " + std::to_string(plan.workspace_bytes) +
                            " bytes of GEMM workspace, the context has " + std::to_string(gemm_workspace_.bytes));
}

Status CudaLinearContext::run(const CudaLinearWeight& w, const void* x, int64_t m, void* y) {
  if (m == 0) return {};
  if (m < 0 || m > INT_MAX) return invalid_argument("CUDA linear: m out of range: " + std::to_string(m));
  if (x == nullptr || y == nullptr) return invalid_argument("CUDA linear: null x or y");
  if (w.packed_) {
    MIXSERVE_RETURN_IF_ERROR(run_packed(w, x, static_cast<int>(m), y));
  } else {
    MIXSERVE_RETURN_IF_ERROR(run_dense(w, x, static_cast<int>(m), y));
  }
  if (w.bias_.get() == nullptr) return {};
  return cuda::add_bias({.y = y, .dtype = w.act_, .bias = w.bias_.as<float>(), .m = m, .n = w.n_}, stream_);
}

Status CudaLinearContext::run_packed(const CudaLinearWeight& w, const void* x, int m, void* y) {
  if (reinterpret_cast<uintptr_t>(x) % 16 != 0 || reinterpret_cast<uintptr_t>(y) % 16 != 0)
    return invalid_argument("CUDA linear: x and y must be 16-byte aligned for the quantized GEMM");
  // fp8 plans hold the quantized activations in the workspace, so a large m may not fit at once: then the rows
  // run in slices, each of a size that fits (halving until one does).
  int rows = m;
  auto plan = gemm_plan(w, rows);
  while (!plan.ok() && plan.status().code() == StatusCode::resource_exhausted && rows > 1) {
    rows = (rows + 1) / 2;
    plan = gemm_plan(w, rows);
  }
  MIXSERVE_RETURN_IF_ERROR(plan.status());
  const size_t x_row = static_cast<size_t>(w.k_) * 2, y_row = static_cast<size_t>(w.n_) * 2;
  for (int start = 0; start < m; start += rows) {
    const int count = std::min(rows, m - start);
    if (count != plan->m) {
      plan = gemm_plan(w, count);
      MIXSERVE_RETURN_IF_ERROR(plan.status());
    }
    // One workspace serves every weight: the split-K counters have a fixed place (kernels/cuda/gemm/gemm.h).
    MIXSERVE_RETURN_IF_ERROR(cuda::run_gemm(*plan, *w.packed_,
                                            {.x = static_cast<const uint8_t*>(x) + start * x_row,
                                             .y = static_cast<uint8_t*>(y) + start * y_row,
                                             .workspace = &gemm_workspace_, .stream = stream_}));
  }
  return {};
}

Status CudaLinearContext::run_dense(const CudaLinearWeight& w, const void* x, int m, void* y) {
  // Row-major y[m][n] = x[m][k] W[n][k]^T is column-major y^T (n x m) = W^T^T (W read as k x n, transposed)
  // times x^T (k x m).
  const cudaDataType type = w.act_ == cuda::ActDtype::bf16 ? CUDA_R_16BF : CUDA_R_16F;
  const float alpha = 1.0f, beta = 0.0f;
  const int n = static_cast<int>(w.n_), k = static_cast<int>(w.k_);
  return cublas_status(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, w.dense_.get(), type, k, x,
                                    type, k, &beta, y, type, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                       "cublasGemmEx");
}

}  // namespace mixserve
