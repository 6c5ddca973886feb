#include <cblas.h>

#include <algorithm>
#include <mutex>

#include "kernels/common/work_pool.h"
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

namespace {

void gemm_one(const GemmArgs& g, const float* A, const float* B, float* C) {
  for (int64_t b = 0; b < g.batch; ++b)
    cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans,
                int(g.M), int(g.N), int(g.K), float(g.alpha), A + b * g.stride_a, int(g.lda), B + b * g.stride_b,
                int(g.ldb), float(g.beta), C + b * g.stride_c, int(g.ldc));
}

void gemm_one(const GemmArgs& g, const double* A, const double* B, double* C) {
  for (int64_t b = 0; b < g.batch; ++b)
    cblas_dgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans,
                int(g.M), int(g.N), int(g.K), g.alpha, A + b * g.stride_a, int(g.lda), B + b * g.stride_b, int(g.ldb),
                g.beta, C + b * g.stride_c, int(g.ldc));
}

// A split part gets at least this many multiply-adds (~40 us of one core's sgemm), which also keeps parts out of
// OpenBLAS's small-matrix paths, whose sums run in another order than the whole product's kernels.
constexpr double kGemmPartMacs = double(1 << 20);

}  // namespace

template <class T>
void gemm_cpu(const GemmArgs& g, const T* A, const T* B, T* C, int threads) {
  BlasSingleThread hold;
  const double macs = double(g.batch) * double(g.M) * double(g.N) * double(g.K);
  // Split the batch when it has a matrix per thread, else op(B)'s columns in parts of multiples of 64: every C
  // element is then summed by the same kernel in the same order as in the whole product, so the split changes
  // no bit (tests/engine/test_cpu_split.cpp). Not C's rows: OpenBLAS sums a part's edge rows in another order.
  const bool by_batch = g.batch >= threads;
  const int64_t extent = by_batch ? g.batch : g.N, align = by_batch ? 1 : 64;
  const int64_t want = std::min<int64_t>(threads, int64_t(macs / kGemmPartMacs));
  const int64_t step = want > 1 ? ((extent + want - 1) / want + align - 1) / align * align : extent;
  const int64_t parts = (extent + step - 1) / step;
  if (parts <= 1) {
    gemm_one(g, A, B, C);
    return;
  }
  parallel_units(parts, threads, [&](int64_t u) {
    const int64_t i0 = u * step, i1 = std::min(extent, (u + 1) * step);
    GemmArgs h = g;
    const T *a = A, *b = B;
    T* c = C;
    if (by_batch) {
      h.batch = i1 - i0;
      a += i0 * g.stride_a; b += i0 * g.stride_b; c += i0 * g.stride_c;
    } else {
      h.N = i1 - i0;
      b += g.trans_b ? i0 * g.ldb : i0;   // op(B) columns: B's columns, or its rows when transposed
      c += i0;
    }
    gemm_one(h, a, b, c);
  });
}

template void gemm_cpu<float>(const GemmArgs&, const float*, const float*, float*, int);
template void gemm_cpu<double>(const GemmArgs&, const double*, const double*, double*, int);

}  // namespace spk
