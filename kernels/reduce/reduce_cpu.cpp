#include <cmath>
#include <vector>

#include "kernels/reduce/reduce.h"

namespace spk {

template <class T>
void sum_axis_cpu(const T* x, T* y, int64_t outer, int64_t K, int64_t inner) {
  std::vector<double> acc(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    std::fill(acc.begin(), acc.end(), 0.0);
    const T* xo = x + o * K * inner;
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < inner; ++i) acc[size_t(i)] += double(xo[k * inner + i]);
    for (int64_t i = 0; i < inner; ++i) y[o * inner + i] = T(acc[size_t(i)]);
  }
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
  template void sum_axis_cpu<T>(const T*, T*, int64_t, int64_t, int64_t);                      \
  template void max_axis_cpu<T>(const T*, T*, int64_t*, int64_t, int64_t, int64_t);            \
  template void max_axis_backward_cpu<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
