// CPU reference of batch norm, fused batch norm + ReLU, fused ReLU + batch norm, and instance norm (formulas in
// kernels/norm/norm.h). Plain loops; every sum runs in double. Variances are two-pass (mean first), which stays
// accurate when |mean| >> std. The batch-norm kernels run groups of channels on the work pool (see kGroup).
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/common/select.h"
#include "kernels/common/work_pool.h"
#include "kernels/elementwise/elementwise.h"   // kCpuSplitMin
#include "kernels/norm/norm.h"

namespace spk {

namespace {

// The value the normalisation reads: x, or relu(x) for relu_batch_norm (RIn).
template <bool RIn, class T> inline T bn_in(T v) {
  if constexpr (RIn) return relu_of(v);
  else return v;
}

// The channel sums are chains of double adds, each waiting for the last (latency-bound at one add per 4 cycles).
// A job takes a group of kGroup adjacent channels and advances their sums together: kGroup independent chains
// overlap, while each channel's sum is still taken in its own serial (n, i) order, so the bits are those of the
// one-channel loops. The last C mod kGroup channels go one at a time. The jobs run on `threads` threads of the
// work pool; no sum is split between threads, so the result does not depend on the thread count.
constexpr int64_t kGroup = 8;

// Runs fn.template operator()<G>(c0) over the groups of channels, on the work pool for tensors of kCpuSplitMin
// elements or more (below, waking the pool costs more than it saves), else on the calling thread.
template <class F>
void for_channel_groups(int64_t C, int64_t elems, int threads, F&& fn) {
  const int64_t full = C / kGroup, units = full + C % kGroup;
  parallel_units(units, elems < kCpuSplitMin ? 1 : threads, [&](int64_t u) {
    if (u < full) fn.template operator()<kGroup>(u * kGroup);
    else fn.template operator()<1>(full * kGroup + (u - full));
  });
}

// Batch statistics of channels c0 .. c0+G-1 (channel c0 + g's row n at x + (n·C + c0)·S + g·S), two-pass.
template <bool RIn, int G, class T>
void bn_stats_group(const T* x, T* mean, T* var, T* invstd, int64_t N, int64_t C, int64_t S, double eps,
                    int64_t c0) {
  const double M = double(N * S);
  double s[G] = {}, m[G], q[G] = {};
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + (n * C + c0) * S;
    for (int64_t i = 0; i < S; ++i)
      for (int g = 0; g < G; ++g) s[g] += double(bn_in<RIn>(xr[g * S + i]));
  }
  for (int g = 0; g < G; ++g) m[g] = s[g] / M;
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + (n * C + c0) * S;
    for (int64_t i = 0; i < S; ++i)
      for (int g = 0; g < G; ++g) {
        const double d = double(bn_in<RIn>(xr[g * S + i])) - m[g];
        q[g] += d * d;
      }
  }
  for (int g = 0; g < G; ++g) {
    mean[c0 + g] = T(m[g]);
    var[c0 + g] = T(q[g] / M);
    invstd[c0 + g] = T(1.0 / std::sqrt(q[g] / M + eps));
  }
}

// y of channel c: x·scale + shift with the channel's affine folded in, computed in double and rounded to T, then
// the ReLU when ROut.
template <bool RIn, bool ROut, class T>
void bn_forward_channel(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias, T* y, int64_t N,
                        int64_t C, int64_t S, int64_t c) {
  const double scale = double(invstd[c]) * (weight ? double(weight[c]) : 1.0);
  const double shift = (bias ? double(bias[c]) : 0.0) - double(mean[c]) * scale;
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + (n * C + c) * S;
    T* yr = y + (n * C + c) * S;
    for (int64_t i = 0; i < S; ++i) {
      const T z = T(double(bn_in<RIn>(xr[i])) * scale + shift);
      yr[i] = ROut ? relu_of(z) : z;
    }
  }
}

template <bool RIn, bool ROut, class T>
void bn_forward(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias, T* y, int64_t N,
                int64_t C, int64_t S, int threads) {
  for_channel_groups(C, N * C * S, threads, [&]<int G>(int64_t c0) {
    for (int64_t c = c0; c < c0 + G; ++c) bn_forward_channel<RIn, ROut>(x, mean, invstd, weight, bias, y, N, C, S, c);
  });
}

// The batch-norm backward of norm.h for channels c0 .. c0+G-1, with g = dy, or g = dy masked by the ReLU's output
// (y > 0) when relu_y is given: the gradient relu(batch_norm(x)) would get, since y > 0 exactly where the
// normalised value is. RIn: the normalisation read r = relu(x), and dx is the gradient to r masked by x > 0.
template <bool RIn, int G, class T>
void bn_backward_group(const T* x, const T* relu_y, const T* mean, const T* invstd, const T* weight, const T* dy,
                       T* dx, T* dweight, T* dbias, int64_t N, int64_t C, int64_t S, bool batch_stats, int64_t c0) {
  const double M = double(N * S);
  auto grad = [&](int64_t k) { return relu_y ? double(select_or_zero(relu_y[k] > T(0), dy[k])) : double(dy[k]); };
  double m[G], is[G], sg[G] = {}, sgx[G] = {};   // Σ g, Σ g·x̂ per channel
  for (int g = 0; g < G; ++g) {
    m[g] = double(mean[c0 + g]);
    is[g] = double(invstd[c0 + g]);
  }
  for (int64_t n = 0; n < N; ++n) {
    const int64_t row = (n * C + c0) * S;
    for (int64_t i = 0; i < S; ++i)
      for (int g = 0; g < G; ++g) {
        const int64_t k = row + g * S + i;
        const double gv = grad(k);
        sg[g] += gv;
        sgx[g] += gv * (double(bn_in<RIn>(x[k])) - m[g]) * is[g];
      }
  }
  for (int g = 0; g < G; ++g) {
    if (dbias) dbias[c0 + g] = T(sg[g]);
    if (dweight) dweight[c0 + g] = T(sgx[g]);
  }
  if (!dx) return;
  // RIn: every element's value is computed and the mask selects (no branch on the sign of x).
  auto out = [](T xv, T d) {
    if constexpr (RIn) return select_or_zero(xv > T(0), d);
    else return d;
  };
  for (int g = 0; g < G; ++g) {
    const int64_t c = c0 + g;
    const double w = weight ? double(weight[c]) : 1.0;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t row = (n * C + c) * S;
      const T* xr = x + row;
      T* dr = dx + row;
      if (batch_stats) {
        for (int64_t i = 0; i < S; ++i) {
          const double xh = (double(bn_in<RIn>(xr[i])) - m[g]) * is[g];
          dr[i] = out(xr[i], T(w * is[g] / M * (M * grad(row + i) - sg[g] - xh * sgx[g])));
        }
      } else {
        for (int64_t i = 0; i < S; ++i) dr[i] = out(xr[i], T(w * is[g] * grad(row + i)));
      }
    }
  }
}

template <bool RIn, class T>
void bn_backward(const T* x, const T* relu_y, const T* mean, const T* invstd, const T* weight, const T* dy, T* dx,
                 T* dweight, T* dbias, int64_t N, int64_t C, int64_t S, bool batch_stats, int threads) {
  for_channel_groups(C, N * C * S, threads, [&]<int G>(int64_t c0) {
    bn_backward_group<RIn, G>(x, relu_y, mean, invstd, weight, dy, dx, dweight, dbias, N, C, S, batch_stats, c0);
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
void batch_norm_stats_cpu(const T* x, T* mean, T* var, T* invstd, int64_t N, int64_t C, int64_t S, double eps,
                          int threads) {
  for_channel_groups(C, N * C * S, threads, [&]<int G>(int64_t c0) {
    bn_stats_group<false, G>(x, mean, var, invstd, N, C, S, eps, c0);
  });
}

template <class T>
void batch_norm_forward_cpu(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias, T* y,
                            int64_t N, int64_t C, int64_t S, int threads) {
  bn_forward<false, false>(x, mean, invstd, weight, bias, y, N, C, S, threads);
}

template <class T>
void batch_norm_backward_cpu(const T* x, const T* mean, const T* invstd, const T* weight, const T* dy, T* dx,
                             T* dweight, T* dbias, int64_t N, int64_t C, int64_t S, bool batch_stats, int threads) {
  bn_backward<false, T>(x, nullptr, mean, invstd, weight, dy, dx, dweight, dbias, N, C, S, batch_stats, threads);
}

template <class T>
void batch_norm_relu_forward_cpu(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias, T* y,
                                 int64_t N, int64_t C, int64_t S, int threads) {
  bn_forward<false, true>(x, mean, invstd, weight, bias, y, N, C, S, threads);
}

template <class T>
void batch_norm_relu_backward_cpu(const T* x, const T* y, const T* mean, const T* invstd, const T* weight,
                                  const T* dy, T* dx, T* dweight, T* dbias, int64_t N, int64_t C, int64_t S,
                                  bool batch_stats, int threads) {
  bn_backward<false, T>(x, y, mean, invstd, weight, dy, dx, dweight, dbias, N, C, S, batch_stats, threads);
}

// Training: the statistics of a group of channels over r = relu(x), then each channel's y while its rows are
// still in cache; eval: y from the given statistics.
template <class T>
void relu_batch_norm_forward_cpu(const T* x, T* mean, T* var, T* invstd, const T* weight, const T* bias, T* y,
                                 int64_t N, int64_t C, int64_t S, double eps, bool batch_stats, int threads) {
  for_channel_groups(C, N * C * S, threads, [&]<int G>(int64_t c0) {
    if (batch_stats) bn_stats_group<true, G>(x, mean, var, invstd, N, C, S, eps, c0);
    for (int64_t c = c0; c < c0 + G; ++c) bn_forward_channel<true, false>(x, mean, invstd, weight, bias, y, N, C, S, c);
  });
}

template <class T>
void relu_batch_norm_backward_cpu(const T* x, const T* mean, const T* invstd, const T* weight, const T* dy, T* dx,
                                  T* dweight, T* dbias, int64_t N, int64_t C, int64_t S, bool batch_stats,
                                  int threads) {
  bn_backward<true, T>(x, nullptr, mean, invstd, weight, dy, dx, dweight, dbias, N, C, S, batch_stats, threads);
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
  template void relu_batch_norm_forward_cpu<T>(const T*, T*, T*, T*, const T*, const T*, T*, int64_t, int64_t,      \
                                               int64_t, double, bool, int);                                      \
  template void relu_batch_norm_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,       \
                                                int64_t, int64_t, int64_t, bool, int);                           \
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
