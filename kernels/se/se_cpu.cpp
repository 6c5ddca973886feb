// CPU squeeze-excitation and add+ReLU (formulas in kernels/se/se.h). One template serves as the double reference
// (the gradient check runs it) and the float fast path: the (N, C, S) tensors are read in one pass per quantity,
// with sums blocked into kLanes accumulators of T (which the compiler vectorises, as it may not reorder one
// accumulator) and carried in double across blocks; the two small products go through gemm_cpu, as the
// composed Linear layers did.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common/select.h"
#include "kernels/common/work_pool.h"
#include "kernels/elementwise/elementwise.h"   // kCpuSplitMin
#include "kernels/gemm/gemm.h"
#include "kernels/se/se.h"

namespace spk {

namespace {

constexpr int64_t kLanes = 8, kBlock = 128;   // a block's lanes each add kBlock / kLanes = 16 values in T

template <class T> double row_sum(const T* p, int64_t n) {
  double total = 0;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    T lane[kLanes] = {};
    for (int64_t j = 0; j < kBlock; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) lane[l] += p[i + j + l];
    for (int64_t l = 0; l < kLanes; ++l) total += double(lane[l]);
  }
  for (; i < n; ++i) total += double(p[i]);
  return total;
}

template <class T> double row_dot(const T* p, const T* q, int64_t n) {
  double total = 0;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    T lane[kLanes] = {};
    for (int64_t j = 0; j < kBlock; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) lane[l] += p[i + j + l] * q[i + j + l];
    for (int64_t l = 0; l < kLanes; ++l) total += double(lane[l]);
  }
  for (; i < n; ++i) total += double(p[i]) * double(q[i]);
  return total;
}

// C (M, N) = op(A)·op(B), row-major, dense.
template <class T> void matmul(const T* A, bool ta, const T* B, bool tb, T* Cm, int64_t M, int64_t N, int64_t K) {
  GemmArgs g;
  g.trans_a = ta;
  g.trans_b = tb;
  g.M = M;
  g.N = N;
  g.K = K;
  g.lda = ta ? M : K;
  g.ldb = tb ? K : N;
  g.ldc = N;
  gemm_cpu<T>(g, A, B, Cm);
}

// out[j] = Σ_n v[n, j] over the rows of an (N, J) matrix, in double.
template <class T> void column_sums(const T* v, T* out, int64_t N, int64_t J) {
  for (int64_t j = 0; j < J; ++j) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n) s += double(v[n * J + j]);
    out[j] = T(s);
  }
}

// f(k0, k1) over rows [0, rows) of `len` elements each: split between the pool's threads from kCpuSplitMin
// elements (kernels/elementwise/elementwise.h), else on the calling thread.
template <class F> void for_rows(int64_t rows, int64_t len, int threads, F&& f) {
  const int64_t parts = std::min<int64_t>(threads, rows);
  if (parts <= 1 || rows * len < kCpuSplitMin) { f(int64_t(0), rows); return; }
  parallel_units(parts, threads, [&](int64_t u) { f(u * rows / parts, (u + 1) * rows / parts); });
}

template <class T> T sigmoid(double z) { return T(z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z))); }

}  // namespace

template <class T>
void squeeze_excite_forward_cpu(const T* x, const T* w1, const T* b1, const T* w2, const T* b2, T* y, T* pooled,
                                T* hidden, T* scale, int64_t N, int64_t C, int64_t S, int64_t R, int threads) {
  if (N == 0) return;
  for_rows(N * C, S, threads, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) pooled[k] = T(row_sum(x + k * S, S) / double(S));
  });
  matmul(pooled, false, w1, true, hidden, N, R, C);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t r = 0; r < R; ++r) {
      T& h = hidden[n * R + r];
      if (b1) h += b1[r];
      h = h > T(0) ? h : T(0);
    }
  matmul(hidden, false, w2, true, scale, N, C, R);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      T& s = scale[n * C + c];
      s = sigmoid<T>(double(s) + (b2 ? double(b2[c]) : 0.0));
    }
  for_rows(N * C, S, threads, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      const T s = scale[k];
      const T* xr = x + k * S;
      T* yr = y + k * S;
      for (int64_t i = 0; i < S; ++i) yr[i] = xr[i] * s;
    }
  });
}

template <class T>
void squeeze_excite_backward_cpu(const T* x, const T* dy, const T* w1, const T* w2, const T* pooled, const T* hidden,
                                 const T* scale, T* dx, T* dw1, T* db1, T* dw2, T* db2, int64_t N, int64_t C,
                                 int64_t S, int64_t R, int threads) {
  if (N == 0) {   // no samples: the weight gradients are zero sums
    for (T* p : {dw1, dw2})
      if (p) std::fill(p, p + R * C, T(0));
    if (db1) std::fill(db1, db1 + R, T(0));
    if (db2) std::fill(db2, db2 + C, T(0));
    return;
  }
  std::vector<T> dz2(size_t(N * C)), dz1(size_t(N * R));
  for_rows(N * C, S, threads, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      const double s = double(scale[k]);
      dz2[size_t(k)] = T(row_dot(dy + k * S, x + k * S, S) * s * (1 - s));
    }
  });
  if (db2) column_sums(dz2.data(), db2, N, C);
  if (dw2) matmul(dz2.data(), true, hidden, false, dw2, C, R, N);
  matmul(dz2.data(), false, w2, false, dz1.data(), N, R, C);
  for (int64_t k = 0; k < N * R; ++k)
    if (!(hidden[k] > T(0))) dz1[size_t(k)] = T(0);
  if (db1) column_sums(dz1.data(), db1, N, R);
  if (dw1) matmul(dz1.data(), true, pooled, false, dw1, R, C, N);
  if (!dx) return;
  std::vector<T>& dm = dz2;   // dz2 is spent: reuse it for the pooled gradient (N, C)
  matmul(dz1.data(), false, w1, false, dm.data(), N, C, R);
  for_rows(N * C, S, threads, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      const T s = scale[k], add = T(double(dm[size_t(k)]) / double(S));
      const T* gr = dy + k * S;
      T* dr = dx + k * S;
      for (int64_t i = 0; i < S; ++i) dr[i] = gr[i] * s + add;
    }
  });
}

// Element ranges of 64-element rows (for_rows), so each part starts on a cache line.
template <class T> void add_relu_forward_cpu(const T* a, const T* b, T* y, int64_t n, int threads) {
  for_rows((n + 63) / 64, 64, threads, [&](int64_t r0, int64_t r1) {
    const int64_t i1 = std::min(n, r1 * 64);
    for (int64_t i = r0 * 64; i < i1; ++i) y[i] = relu_of(T(a[i] + b[i]));   // branch-free: kernels/common/select.h
  });
}

template <class T> void add_relu_backward_cpu(const T* y, const T* dy, T* dx, int64_t n, int threads) {
  for_rows((n + 63) / 64, 64, threads, [&](int64_t r0, int64_t r1) {
    const int64_t i1 = std::min(n, r1 * 64);
    for (int64_t i = r0 * 64; i < i1; ++i) dx[i] = select_or_zero(y[i] > T(0), dy[i]);
  });
}

#define SPK_INSTANTIATE(T)                                                                                         \
  template void squeeze_excite_forward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, T*,    \
                                              int64_t, int64_t, int64_t, int64_t, int);                          \
  template void squeeze_excite_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, const T*,         \
                                               const T*, T*, T*, T*, T*, T*, int64_t, int64_t, int64_t, int64_t,  \
                                               int);                                                              \
  template void add_relu_forward_cpu<T>(const T*, const T*, T*, int64_t, int);                                     \
  template void add_relu_backward_cpu<T>(const T*, const T*, T*, int64_t, int);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
