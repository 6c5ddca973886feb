// Row-major batched GEMM: for b in [0, batch):
//   C_b (M, N) = alpha · op(A_b) · op(B_b) + beta · C_b,   op(X) = X or Xᵀ,
// with A_b = A + b·stride_a (likewise B, C), leading dimensions lda/ldb/ldc in elements as in row-major
// BLAS. A stride of 0 broadcasts one matrix over the batch.
// CPU: OpenBLAS cblas_{s,d}gemm, always on one OpenBLAS thread; `threads` > 1 splits a large product (the batch,
// else C's columns) between the work pool's threads (kernels/common/work_pool.h), one sgemm each, without
// changing a bit of C (gemm_cpu.cpp says how). Why not
// OpenBLAS's own threads: after each threaded call its workers spin (sched_yield) for up to 2^28 cycles, and on a
// 2-core machine the spinner took the core our pool's worker needed next (a batch-1 extraction ran 1.5-2x slower
// with OpenBLAS's default spin than with OPENBLAS_THREAD_TIMEOUT=4). CUDA: cuBLAS gemmStridedBatched (f32, on the
// handle's stream; tf32 tensor cores are not enabled, so results match fp32 to rounding).
// gemm_half_cuda: the same product with A and B already in bf16 or fp16 storage (`half`), fp32 compute and fp32
// C, through cublasGemmStridedBatchedEx: autocast's GEMM (engine/autocast.h). Compiled, never run on a GPU yet.
#pragma once
#include <cstdint>

#include "kernels/common/dtype.h"

namespace spk {

struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;
  double alpha = 1, beta = 0;
};

// Holds OpenBLAS at one thread while any holder lives. Its pthread build knows nothing of our threads: called
// from two work-pool workers (a conv's image blocks) or two evaluation workers (spk_eval --eval_jobs) it would
// start its own workers for each call and oversubscribe the cores. Its thread count is process-global, so
// nested or concurrent holders share one saved value, restored when the last one goes.
class BlasSingleThread {
 public:
  BlasSingleThread();
  ~BlasSingleThread();
  BlasSingleThread(const BlasSingleThread&) = delete;
  BlasSingleThread& operator=(const BlasSingleThread&) = delete;
};

template <class T> void gemm_cpu(const GemmArgs& g, const T* A, const T* B, T* C, int threads = 1);
void gemm_cuda(const GemmArgs& g, const float* A, const float* B, float* C, void* cublas_handle);
void gemm_half_cuda(const GemmArgs& g, const void* A, const void* B, DType half, float* C, void* cublas_handle);

}  // namespace spk
