#include <cblas.h>

#include <mutex>

#include "kernels/gemm/gemm.h"

namespace spk {

namespace {
// The one piece of process-wide state here: it guards a setting that is process-wide in OpenBLAS itself.
struct BlasHold {
  std::mutex mu;
  int depth = 0, saved = 1;
};
BlasHold& blas_hold() {
  static BlasHold h;
  return h;
}
}  // namespace

BlasSingleThread::BlasSingleThread() {
  BlasHold& h = blas_hold();
  std::lock_guard<std::mutex> lock(h.mu);
  if (h.depth++ == 0) {
    h.saved = openblas_get_num_threads();
    if (h.saved != 1) openblas_set_num_threads(1);
  }
}

BlasSingleThread::~BlasSingleThread() {
  BlasHold& h = blas_hold();
  std::lock_guard<std::mutex> lock(h.mu);
  if (--h.depth == 0 && h.saved != 1) openblas_set_num_threads(h.saved);
}

template <>
void gemm_cpu<float>(const GemmArgs& g, const float* A, const float* B, float* C) {
  for (int64_t b = 0; b < g.batch; ++b)
    cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans,
                int(g.M), int(g.N), int(g.K), float(g.alpha), A + b * g.stride_a, int(g.lda), B + b * g.stride_b,
                int(g.ldb), float(g.beta), C + b * g.stride_c, int(g.ldc));
}

template <>
void gemm_cpu<double>(const GemmArgs& g, const double* A, const double* B, double* C) {
  for (int64_t b = 0; b < g.batch; ++b)
    cblas_dgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans,
                int(g.M), int(g.N), int(g.K), g.alpha, A + b * g.stride_a, int(g.lda), B + b * g.stride_b, int(g.ldb),
                g.beta, C + b * g.stride_c, int(g.ldc));
}

}  // namespace spk
