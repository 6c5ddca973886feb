#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common/work_pool.h"
#include "kernels/elementwise/elementwise.h"   // kCpuSplitMin
#include "kernels/reduce/reduce.h"

namespace spk {

namespace {

// Outputs [o0, o1) x [i0, i1) of sum_axis, each summed over k in ascending order in double.
template <class T>
void sum_axis_block(const T* x, T* y, int64_t o0, int64_t o1, int64_t K, int64_t inner, int64_t i0, int64_t i1) {
  if (inner == 1) {
    // Summing along the last axis (SE and pooling means): one dependent chain of double adds per row would
    // run at the add latency, so eight rows go side by side, each still in its own ascending order.
    int64_t o = o0;
    for (; o + 8 <= o1; o += 8) {
      double acc[8] = {};
      for (int64_t k = 0; k < K; ++k)
        for (int r = 0; r < 8; ++r) acc[r] += double(x[(o + r) * K + k]);
      for (int r = 0; r < 8; ++r) y[o + r] = T(acc[r]);
    }
    for (; o < o1; ++o) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += double(x[o * K + k]);
      y[o] = T(acc);
    }
    return;
  }
  std::vector<double> acc(static_cast<size_t>(i1 - i0));
  for (int64_t o = o0; o < o1; ++o) {
    std::fill(acc.begin(), acc.end(), 0.0);
    const T* xo = x + o * K * inner;
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = i0; i < i1; ++i) acc[size_t(i - i0)] += double(xo[k * inner + i]);
    for (int64_t i = i0; i < i1; ++i) y[o * inner + i] = T(acc[size_t(i - i0)]);
  }
}

}  // namespace

template <class T>
void sum_axis_cpu(const T* x, T* y, int64_t outer, int64_t K, int64_t inner, int threads) {
  if (threads <= 1 || outer * K * inner < kCpuSplitMin || outer * inner < 2) {
    sum_axis_block(x, y, 0, outer, K, inner, 0, inner);
    return;
  }
  // Split the rows where there are enough of them, else the inner columns (one image's channels).
  const int64_t parts = std::min<int64_t>(threads, outer >= threads ? outer : inner);
  parallel_units(parts, threads, [&](int64_t u) {
    if (outer >= threads) sum_axis_block(x, y, u * outer / parts, (u + 1) * outer / parts, K, inner, 0, inner);
    else sum_axis_block(x, y, 0, outer, K, inner, u * inner / parts, (u + 1) * inner / parts);
  });
}

template <class T>
void max_axis_cpu(const T* x, T* y, int64_t* idx, int64_t outer, int64_t K, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * K * inner + i;
      T best = p[0];
      int64_t bi = 0;
      for (int64_t k = 1; k < K && !std::isnan(best); ++k) {
        T v = p[k * inner];
        if (v > best || std::isnan(v)) { best = v; bi = k; }
      }
      y[o * inner + i] = best;
      idx[o * inner + i] = bi;
    }
}

template <class T>
void max_axis_backward_cpu(const T* dy, const int64_t* idx, T* dx, int64_t outer, int64_t K, int64_t inner) {
  for (int64_t j = 0; j < outer * K * inner; ++j) dx[j] = T(0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) dx[(o * K + idx[o * inner + i]) * inner + i] = dy[o * inner + i];
}

void prediction_accuracy_cpu(const int64_t* pred, const int64_t* labels, int64_t n, double* out) {
  int64_t hit = 0;
  for (int64_t i = 0; i < n; ++i) hit += pred[i] == (labels ? labels[i] : i);
  *out = n == 0 ? 0.0 : 100.0 * double(hit) / double(n);
}

#define SPK_INSTANTIATE(T)                                                                       \
  template void sum_axis_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, int);                 \
  template void max_axis_cpu<T>(const T*, T*, int64_t*, int64_t, int64_t, int64_t);            \
  template void max_axis_backward_cpu<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
