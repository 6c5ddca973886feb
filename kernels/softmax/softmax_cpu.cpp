// CPU reference of the softmax family (kernels/softmax/softmax.h): plain loops over (outer, C, inner).
// Every row is shifted by its maximum before exp, so logits of any magnitude stay finite; sums are
// accumulated in double, so the f32 kernel is as exact as its inputs allow. Outputs are written (=).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/softmax/softmax.h"

namespace spk {

namespace {

// max_c x[c * inner] and log Σ_c exp(x[c * inner] − max), for one (outer, inner) position.
template <class T>
void row_max_logsum(const T* x, int64_t C, int64_t inner, double& m, double& log_sum) {
  m = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < C; ++c) m = std::max(m, double(x[c * inner]));
  // A row of -inf (or a NaN) has no finite max: the result is NaN, as in PyTorch.
  if (std::isinf(m) && m < 0) { log_sum = std::numeric_limits<double>::quiet_NaN(); return; }
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += std::exp(double(x[c * inner]) - m);
  log_sum = std::log(s);
}

}  // namespace

template <class T>
void softmax_forward_cpu(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* xr = x + o * C * inner + i;
      T* yr = y + o * C * inner + i;
      double m, ls;
      row_max_logsum(xr, C, inner, m, ls);
      // y = exp(x − m − log Σ): one formula for both, so softmax rows sum to 1 to rounding.
      for (int64_t c = 0; c < C; ++c) {
        double z = double(xr[c * inner]) - m - ls;
        yr[c * inner] = T(log ? z : std::exp(z));
      }
    }
}

template <class T>
void softmax_backward_cpu(const T* y, const T* dy, T* dx, int64_t outer, int64_t C, int64_t inner, bool log) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * C * inner + i;
      double s = 0;   // softmax: Σ dy ⊙ y;  log_softmax: Σ dy
      for (int64_t c = 0; c < C; ++c) {
        const int64_t k = base + c * inner;
        s += log ? double(dy[k]) : double(dy[k]) * double(y[k]);
      }
      for (int64_t c = 0; c < C; ++c) {
        const int64_t k = base + c * inner;
        dx[k] = log ? T(double(dy[k]) - std::exp(double(y[k])) * s) : T(double(y[k]) * (double(dy[k]) - s));
      }
    }
}

template <class T>
void cross_entropy_forward_cpu(const T* logits, const int64_t* labels, T* loss, T* lse, int64_t N, int64_t C) {
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = logits + n * C;
    double m, ls;
    row_max_logsum(xr, C, 1, m, ls);
    const double l = m + ls;   // logsumexp of the row
    lse[n] = T(l);
    // (m − x[label]) + ls, not l − x[label]: no cancellation of two large numbers.
    loss[n] = T((m - double(xr[labels[n]])) + ls);
  }
}

template <class T>
void cross_entropy_backward_cpu(const T* logits, const int64_t* labels, const T* lse, const T* dloss, T* dlogits,
                                int64_t N, int64_t C) {
  for (int64_t n = 0; n < N; ++n) {
    const double g = double(dloss[n]), l = double(lse[n]);
    for (int64_t c = 0; c < C; ++c) {
      double p = std::exp(double(logits[n * C + c]) - l);
      dlogits[n * C + c] = T(g * (p - (c == labels[n] ? 1.0 : 0.0)));
    }
  }
}

#define SPK_INSTANTIATE(T)                                                                                        \
  template void softmax_forward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, bool);                          \
  template void softmax_backward_cpu<T>(const T*, const T*, T*, int64_t, int64_t, int64_t, bool);               \
  template void cross_entropy_forward_cpu<T>(const T*, const int64_t*, T*, T*, int64_t, int64_t);               \
  template void cross_entropy_backward_cpu<T>(const T*, const int64_t*, const T*, const T*, T*, int64_t, int64_t);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
