// CPU reference of batch norm, fused batch norm + ReLU, and instance norm (formulas in
// kernels/norm/norm.h). Plain loops; every
// sum runs in double. Variances are two-pass (mean first), which stays accurate when |mean| >> std.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common/work_pool.h"
#include "kernels/elementwise/elementwise.h"   // kCpuSplitMin
#include "kernels/norm/norm.h"

namespace spk {

namespace {

// Calls f(c0, c1) over channel ranges, one per thread of the work pool for tensors of kCpuSplitMin elements or
// more, else once. A channel's sums always run on one thread in one order, so results do not depend on threads.
template <class F>
void split_channels(int64_t C, int64_t elems, int threads, F&& f) {
  const int64_t parts = std::min<int64_t>(threads, C);
  if (parts <= 1 || elems < kCpuSplitMin) { f(int64_t(0), C); return; }
  parallel_units(parts, threads, [&](int64_t u) { f(u * C / parts, (u + 1) * C / parts); });
}

// Channels go through the sums kLanes at a time: each channel's sum is still one ascending chain of double adds,
// but kLanes independent chains side by side run at the adder's throughput instead of its latency.
constexpr int kLanes = 4;

template <class T>
void stats_channels(const T* x, T* mean, T* var, T* invstd, int64_t N, int64_t C, int64_t S, double eps, int64_t c0,
                    int64_t c1) {
  const double M = double(N * S);
  for (int64_t cb = c0; cb < c1; cb += kLanes) {
    const int lanes = int(std::min<int64_t>(kLanes, c1 - cb));
    double s[kLanes] = {}, q[kLanes] = {}, m[kLanes] = {};
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i)
        for (int j = 0; j < lanes; ++j) s[j] += double(x[(n * C + cb + j) * S + i]);
    for (int j = 0; j < lanes; ++j) m[j] = s[j] / M;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i)
        for (int j = 0; j < lanes; ++j) {
          const double d = double(x[(n * C + cb + j) * S + i]) - m[j];
          q[j] += d * d;
        }
    for (int j = 0; j < lanes; ++j) {
      mean[cb + j] = T(m[j]);
      var[cb + j] = T(q[j] / M);
      invstd[cb + j] = T(1.0 / std::sqrt(q[j] / M + eps));
    }
  }
}

}  // namespace

template <class T>
void batch_norm_stats_cpu(const T* x, T* mean, T* var, T* invstd, int64_t N, int64_t C, int64_t S, double eps,
                          int threads) {
  split_channels(C, N * C * S, threads,
                 [&](int64_t c0, int64_t c1) { stats_channels(x, mean, var, invstd, N, C, S, eps, c0, c1); });
}

namespace {

// y = x·scale + shift per channel, computed in double and rounded to T, then the ReLU when asked for.
template <class T>
void bn_forward(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias, T* y, int64_t N,
                int64_t C, int64_t S, bool relu, int threads) {
  split_channels(C, N * C * S, threads, [&](int64_t c0, int64_t c1) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = c0; c < c1; ++c) {
        // y = x·scale + shift with the channel's affine folded in.
        const double scale = double(invstd[c]) * (weight ? double(weight[c]) : 1.0);
        const double shift = (bias ? double(bias[c]) : 0.0) - double(mean[c]) * scale;
        const T* xr = x + (n * C + c) * S;
        T* yr = y + (n * C + c) * S;
        for (int64_t i = 0; i < S; ++i) {
          const T z = T(double(xr[i]) * scale + shift);
          yr[i] = relu ? (z > T(0) ? z : T(0)) : z;
        }
      }
  });
}

// The batch-norm backward of norm.h with g = dy, or g = dy masked by the ReLU's output (y > 0) when relu_y is
// given: the gradient relu(batch_norm(x)) would get, since y > 0 exactly where the normalised value is.
template <class T>
void bn_backward_channels(const T* x, const T* relu_y, const T* mean, const T* invstd, const T* weight, const T* dy,
                          T* dx, T* dweight, T* dbias, int64_t N, int64_t C, int64_t S, bool batch_stats,
                          int64_t c0, int64_t c1) {
  const double M = double(N * S);
  auto grad = [&](int64_t k) { return relu_y && !(relu_y[k] > T(0)) ? 0.0 : double(dy[k]); };
  for (int64_t cb = c0; cb < c1; cb += kLanes) {
    const int lanes = int(std::min<int64_t>(kLanes, c1 - cb));
    double sg[kLanes] = {}, sgx[kLanes] = {}, m[kLanes], is[kLanes];   // Σ g, Σ g·x̂ per channel
    for (int j = 0; j < lanes; ++j) { m[j] = double(mean[cb + j]); is[j] = double(invstd[cb + j]); }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i)
        for (int j = 0; j < lanes; ++j) {
          const int64_t k = (n * C + cb + j) * S + i;
          const double g = grad(k);
          sg[j] += g;
          sgx[j] += g * (double(x[k]) - m[j]) * is[j];
        }
    for (int j = 0; j < lanes; ++j) {
      const int64_t c = cb + j;
      if (dbias) dbias[c] = T(sg[j]);
      if (dweight) dweight[c] = T(sgx[j]);
      if (!dx) continue;
      const double w = weight ? double(weight[c]) : 1.0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const int64_t k = (n * C + c) * S + i;
          if (batch_stats) {
            const double xh = (double(x[k]) - m[j]) * is[j];
            dx[k] = T(w * is[j] / M * (M * grad(k) - sg[j] - xh * sgx[j]));
          } else {
            dx[k] = T(w * is[j] * grad(k));
          }
        }
    }
  }
}

template <class T>
void bn_backward(const T* x, const T* relu_y, const T* mean, const T* invstd, const T* weight, const T* dy, T* dx,
                 T* dweight, T* dbias, int64_t N, int64_t C, int64_t S, bool batch_stats, int threads) {
  split_channels(C, N * C * S, threads, [&](int64_t c0, int64_t c1) {
    bn_backward_channels(x, relu_y, mean, invstd, weight, dy, dx, dweight, dbias, N, C, S, batch_stats, c0, c1);
  });
}

// The statistics instance and layer norm take over one contiguous row of n values, two-pass in double: the mean m
// and is = 1 / sqrt(biased variance + eps).
template <class T>
void row_stats(const T* xr, int64_t n, double eps, double& m, double& is) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(xr[i]);
  m = s / double(n);
  double q = 0;
  for (int64_t i = 0; i < n; ++i) { double d = double(xr[i]) - m; q += d * d; }
  is = 1.0 / std::sqrt(q / double(n) + eps);
}

}  // namespace

template <class T>
void batch_norm_forward_cpu(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias, T* y,
                            int64_t N, int64_t C, int64_t S, int threads) {
  bn_forward(x, mean, invstd, weight, bias, y, N, C, S, false, threads);
}

template <class T>
void batch_norm_backward_cpu(const T* x, const T* mean, const T* invstd, const T* weight, const T* dy, T* dx,
                             T* dweight, T* dbias, int64_t N, int64_t C, int64_t S, bool batch_stats, int threads) {
  bn_backward<T>(x, nullptr, mean, invstd, weight, dy, dx, dweight, dbias, N, C, S, batch_stats, threads);
}

template <class T>
void batch_norm_relu_forward_cpu(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias, T* y,
                                 int64_t N, int64_t C, int64_t S, int threads) {
  bn_forward(x, mean, invstd, weight, bias, y, N, C, S, true, threads);
}

template <class T>
void batch_norm_relu_backward_cpu(const T* x, const T* y, const T* mean, const T* invstd, const T* weight,
                                  const T* dy, T* dx, T* dweight, T* dbias, int64_t N, int64_t C, int64_t S,
                                  bool batch_stats, int threads) {
  bn_backward<T>(x, y, mean, invstd, weight, dy, dx, dweight, dbias, N, C, S, batch_stats, threads);
}

template <class T>
void instance_norm_forward_cpu(const T* x, const T* weight, const T* bias, T* y, T* mean, T* invstd, int64_t N,
                               int64_t C, int64_t Tn, double eps) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t row = n * C + c;
      const T* xr = x + row * Tn;
      T* yr = y + row * Tn;
      double m = 0, is = 0;
      row_stats(xr, Tn, eps, m, is);
      mean[row] = T(m);
      invstd[row] = T(is);
      const double w = weight ? double(weight[c]) : 1.0, b = bias ? double(bias[c]) : 0.0;
      for (int64_t t = 0; t < Tn; ++t) yr[t] = T((double(xr[t]) - m) * is * w + b);
    }
}

template <class T>
void instance_norm_backward_cpu(const T* x, const T* mean, const T* invstd, const T* weight, const T* dy, T* dx,
                                T* dweight, T* dbias, int64_t N, int64_t C, int64_t Tn) {
  std::vector<double> dw(size_t(C), 0.0), db(size_t(C), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t row = n * C + c;
      const T* xr = x + row * Tn;
      const T* gr = dy + row * Tn;
      const double m = double(mean[row]), is = double(invstd[row]), w = weight ? double(weight[c]) : 1.0;
      double sg = 0, sgx = 0;
      for (int64_t t = 0; t < Tn; ++t) {
        sg += double(gr[t]);
        sgx += double(gr[t]) * (double(xr[t]) - m) * is;
      }
      db[size_t(c)] += sg;
      dw[size_t(c)] += sgx;
      if (!dx) continue;
      // The row's own statistics depend on x: batch-norm gradient with M = T (w scales g).
      T* dr = dx + row * Tn;
      for (int64_t t = 0; t < Tn; ++t) {
        const double xh = (double(xr[t]) - m) * is;
        dr[t] = T(w * is / double(Tn) * (double(Tn) * double(gr[t]) - sg - xh * sgx));
      }
    }
  for (int64_t c = 0; c < C; ++c) {
    if (dweight) dweight[c] = T(dw[size_t(c)]);
    if (dbias) dbias[c] = T(db[size_t(c)]);
  }
}

template <class T>
void layer_norm_forward_cpu(const T* x, const T* weight, const T* bias, T* y, T* mean, T* invstd, int64_t R,
                            int64_t D, double eps) {
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * D;
    T* yr = y + r * D;
    double m = 0, is = 0;
    row_stats(xr, D, eps, m, is);
    mean[r] = T(m);
    invstd[r] = T(is);
    for (int64_t d = 0; d < D; ++d) {
      const double w = weight ? double(weight[d]) : 1.0, b = bias ? double(bias[d]) : 0.0;
      yr[d] = T((double(xr[d]) - m) * is * w + b);
    }
  }
}

template <class T>
void layer_norm_backward_cpu(const T* x, const T* mean, const T* invstd, const T* weight, const T* dy, T* dx,
                             T* dweight, T* dbias, int64_t R, int64_t D) {
  std::vector<double> dw(size_t(D), 0.0), db(size_t(D), 0.0);
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * D;
    const T* gr = dy + r * D;
    const double m = double(mean[r]), is = double(invstd[r]);
    double sg = 0, sgx = 0;   // Σĝ and Σĝ·x̂ over the row, ĝ = g·w (the gradient reaching x̂)
    for (int64_t d = 0; d < D; ++d) {
      const double g = double(gr[d]), xh = (double(xr[d]) - m) * is, w = weight ? double(weight[d]) : 1.0;
      db[size_t(d)] += g;
      dw[size_t(d)] += g * xh;
      sg += g * w;
      sgx += g * w * xh;
    }
    if (!dx) continue;
    T* dr = dx + r * D;
    for (int64_t d = 0; d < D; ++d) {
      const double xh = (double(xr[d]) - m) * is, w = weight ? double(weight[d]) : 1.0;
      dr[d] = T(is / double(D) * (double(D) * double(gr[d]) * w - sg - xh * sgx));
    }
  }
  for (int64_t d = 0; d < D; ++d) {
    if (dweight) dweight[d] = T(dw[size_t(d)]);
    if (dbias) dbias[d] = T(db[size_t(d)]);
  }
}

#define SPK_INSTANTIATE(T)                                                                                         \
  template void batch_norm_stats_cpu<T>(const T*, T*, T*, T*, int64_t, int64_t, int64_t, double, int);          \
  template void batch_norm_forward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, int64_t, int64_t, \
                                          int64_t, int);                                                         \
  template void batch_norm_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, int64_t,  \
                                           int64_t, int64_t, bool, int);                                         \
  template void batch_norm_relu_forward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, int64_t,       \
                                               int64_t, int64_t, int);                                           \
  template void batch_norm_relu_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, const T*, T*, T*, \
                                                T*, int64_t, int64_t, int64_t, bool, int);                       \
  template void instance_norm_forward_cpu<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, int64_t,  \
                                             double);                                                            \
  template void instance_norm_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,        \
                                              int64_t, int64_t, int64_t);                        \
  template void layer_norm_forward_cpu<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, double);     \
  template void layer_norm_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, int64_t,  \
                                           int64_t);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
