// CUDA GEMM (kernels/gemm/gemm.h): row-major batched SGEMM through cuBLAS, which is column-major.
//
// A row-major (R, C) matrix with leading dimension ld is, byte for byte, its transpose as a column-major
// (C, R) matrix with the same ld. So the row-major product C = op(A)·op(B) is computed as the
// column-major product Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands, swap M and N, keep every flag and every
// leading dimension as given. (op(B)ᵀ is the stored B read column-major with the same op: if B is stored
// transposed, trans_b, the column-major view of the buffer is (B stored)ᵀ and we need (B stored) itself,
// hence CUBLAS_OP_T; if not, the view already is op(B)ᵀ, hence CUBLAS_OP_N.)
//
//   cublasSgemmStridedBatched(opB, opA, m = N, n = M, k = K, B, ldb, stride_b, A, lda, stride_a, C, ldc, stride_c)
//
// The handle comes from engine/cuda_cuda.cpp (cuda::cublas_handle()), bound to the engine's stream with math
// mode CUBLAS_DEFAULT_MATH (pure fp32, no TF32), so results match OpenBLAS up to summation order. A batch
// stride of 0 broadcasts.
#include <climits>

#include "kernels/common/cuda_check.h"
#include "kernels/gemm/gemm.h"

namespace spk {

namespace {
void check_sizes(const GemmArgs& g) {
  // cuBLAS takes 32-bit sizes (batch strides are 64-bit).
  for (int64_t v : {g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.batch})
    SPK_CHECK(v >= 0 && v <= INT_MAX, "gemm_cuda: size ", v, " does not fit cuBLAS's 32-bit arguments (M ", g.M,
              ", N ", g.N, ", K ", g.K, ", batch ", g.batch, ")");
  // Row-major leading dimensions must cover a row; checked here because cuBLAS would only say "invalid value".
  SPK_CHECK(g.ldc >= g.N && g.lda >= (g.trans_a ? g.M : g.K) && g.ldb >= (g.trans_b ? g.K : g.N),
            "gemm_cuda: leading dimensions lda ", g.lda, ", ldb ", g.ldb, ", ldc ", g.ldc, " too small for M ", g.M,
            ", N ", g.N, ", K ", g.K, " (trans_a ", g.trans_a, ", trans_b ", g.trans_b, ")");
}
}  // namespace

void gemm_cuda(const GemmArgs& g, const float* A, const float* B, float* C, void* cublas_handle) {
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  check_sizes(g);
  const float alpha = float(g.alpha), beta = float(g.beta);
  // cuBLAS rejects a leading dimension of 0 even when the matrix it describes is empty (K == 0).
  const int lda = int(g.lda > 0 ? g.lda : 1), ldb = int(g.ldb > 0 ? g.ldb : 1);
  SPK_CUBLAS_CHECK(cublasSgemmStridedBatched(
      cublasHandle_t(cublas_handle), g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
      int(g.N), int(g.M), int(g.K), &alpha, B, ldb, (long long)g.stride_b, A, lda, (long long)g.stride_a, &beta, C,
      int(g.ldc), (long long)g.stride_c, int(g.batch)));
}

// Autocast's GEMM: 16-bit A and B, fp32 accumulation (CUBLAS_COMPUTE_32F, so alpha and beta are float) and fp32 C.
// The same operand swap as above. The handle's default math mode allows tensor cores for 16-bit inputs.
void gemm_half_cuda(const GemmArgs& g, const void* A, const void* B, DType half, float* C, void* cublas_handle) {
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  SPK_CHECK(half == DType::bf16 || half == DType::f16, "gemm_half_cuda: operands must be bf16 or f16, got ",
            dtype_name(half));
  check_sizes(g);
  const cudaDataType in = half == DType::bf16 ? CUDA_R_16BF : CUDA_R_16F;
  const float alpha = float(g.alpha), beta = float(g.beta);
  const int lda = int(g.lda > 0 ? g.lda : 1), ldb = int(g.ldb > 0 ? g.ldb : 1);
  SPK_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cublasHandle_t(cublas_handle), g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
      int(g.N), int(g.M), int(g.K), &alpha, B, in, ldb, (long long)g.stride_b, A, in, lda, (long long)g.stride_a,
      &beta, C, CUDA_R_32F, int(g.ldc), (long long)g.stride_c, int(g.batch), CUBLAS_COMPUTE_32F,
      CUBLAS_GEMM_DEFAULT));
}

}  // namespace spk
