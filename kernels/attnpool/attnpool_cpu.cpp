// CPU kernels of the fused attentive pooling (kernels/attnpool/attnpool.h). One template serves f64 (the reference
// the gradient checks run on) and f32 (the fast path): per-frame scalar sums in double, per-element sums in T with
// partial sums over a fixed split, so the f32 loops vectorise and no sum's order depends on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attnpool/attnpool.h"
#include "kernels/attnpool/attnpool_math.h"
#include "kernels/common/work_pool.h"

namespace spk {

namespace {

using attnpool::stat_grads;
using attnpool::stat_std;

// Σ_i p_i q_i with four partial sums (fixed order): vectorisable for f32 without reassociating flags.
template <class T> T dot(const T* p, const T* q, int64_t n) {
  T s[4] = {T(0), T(0), T(0), T(0)};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) s[k] += p[i + k] * q[i + k];
  for (; i < n; ++i) s[0] += p[i] * q[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// w = softmax(s) in place over n values; max and denominator in double, as kernels/softmax does.
template <class T> void softmax_inplace(T* s, int64_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, double(s[i]));
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T e = T(std::exp(s[i] - T(m)));
    s[i] = e;
    sum += double(e);
  }
  const T inv = T(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) s[i] *= inv;
}

// Σ_t w_t g_t in double (the softmax backward's projection).
template <class T> double weighted_sum(const T* w, const T* g, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(w[i]) * double(g[i]);
  return s;
}

// The statistics of D channels from their weighted sums mu, m2 (sums of w x and w x² over frames): y row and v row.
template <class T> void write_stats(const T* mu, const T* m2, T* y, T* v, int64_t D, bool with_std, StatClamp c) {
  for (int64_t d = 0; d < D; ++d) y[d] = mu[d];
  if (!with_std) return;
  for (int64_t d = 0; d < D; ++d) {
    v[d] = m2[d] - mu[d] * mu[d];
    y[D + d] = stat_std(v[d], c);
  }
}

// Rows per work unit of attentive_stats over (b, channel block): enough work per unit to amortise the hand-out.
constexpr int64_t kRowsPerUnit = 32;

}  // namespace

template <class T>
void sap_pool_forward_cpu(const T* h_pre, const T* a, const T* x, T* y, T* th, T* w, T* v, int64_t B, int64_t L,
                          int64_t H, int64_t D, bool with_std, StatClamp clamp, int threads) {
  parallel_units(B, threads, [&](int64_t b) {
    T* wb = w + b * L;
    for (int64_t t = 0; t < L; ++t) {
      const T* hp = h_pre + (b * L + t) * H;
      T* tt = th + (b * L + t) * H;
      for (int64_t h = 0; h < H; ++h) tt[h] = std::tanh(hp[h]);
      wb[t] = dot(tt, a, H);
    }
    softmax_inplace(wb, L);
    std::vector<T> mu(size_t(D), T(0)), m2(size_t(with_std ? D : 0), T(0));
    for (int64_t t = 0; t < L; ++t) {
      const T* xt = x + (b * L + t) * D;
      const T wt = wb[t];
      for (int64_t d = 0; d < D; ++d) mu[size_t(d)] += wt * xt[d];
      if (with_std)
        for (int64_t d = 0; d < D; ++d) m2[size_t(d)] += wt * xt[d] * xt[d];
    }
    write_stats(mu.data(), m2.data(), y + b * D * (with_std ? 2 : 1), v ? v + b * D : nullptr, D, with_std, clamp);
  });
}

template <class T>
void sap_pool_backward_cpu(const T* th, const T* a, const T* x, const T* w, const T* y, const T* v, const T* dy,
                           T* dh_pre, T* da, T* dx, T* ds, int64_t B, int64_t L, int64_t H, int64_t D, bool with_std,
                           StatClamp clamp, int threads) {
  const int64_t Y = with_std ? 2 * D : D;
  parallel_units(B, threads, [&](int64_t b) {
    std::vector<T> gmu(static_cast<size_t>(D)), gm2(static_cast<size_t>(D));
    const T* yb = y + b * Y;
    const T* dyb = dy + b * Y;
    for (int64_t d = 0; d < D; ++d) {
      const auto g = with_std ? stat_grads(yb[d], yb[D + d], v[b * D + d], dyb[d], dyb[D + d], true, clamp)
                              : stat_grads(yb[d], T(0), T(0), dyb[d], T(0), false, clamp);
      gmu[size_t(d)] = g.dmu;
      gm2[size_t(d)] = g.dm2;
    }
    const T* wb = w + b * L;
    T* dsb = ds + b * L;
    for (int64_t t = 0; t < L; ++t) {   // g_t = Σ_d x (dmu' + dm2 x), and dx
      const T* xt = x + (b * L + t) * D;
      T* dxt = dx + (b * L + t) * D;
      const T wt = wb[t];
      T part[4] = {T(0), T(0), T(0), T(0)};
      int64_t d = 0;
      for (; d + 4 <= D; d += 4)
        for (int k = 0; k < 4; ++k) {
          const T xv = xt[d + k];
          part[k] += xv * (gmu[size_t(d + k)] + gm2[size_t(d + k)] * xv);
          dxt[d + k] = wt * (gmu[size_t(d + k)] + T(2) * gm2[size_t(d + k)] * xv);
        }
      for (; d < D; ++d) {
        const T xv = xt[d];
        part[0] += xv * (gmu[size_t(d)] + gm2[size_t(d)] * xv);
        dxt[d] = wt * (gmu[size_t(d)] + T(2) * gm2[size_t(d)] * xv);
      }
      dsb[t] = (part[0] + part[1]) + (part[2] + part[3]);
    }
    const T proj = T(weighted_sum(wb, dsb, L));
    for (int64_t t = 0; t < L; ++t) {
      dsb[t] = wb[t] * (dsb[t] - proj);
      const T* tt = th + (b * L + t) * H;
      T* dh = dh_pre + (b * L + t) * H;
      for (int64_t h = 0; h < H; ++h) dh[h] = dsb[t] * a[h] * (T(1) - tt[h] * tt[h]);
    }
  });
  // da_h = Σ_{b,t} ds th, (b, t) ascending: one serial pass, vectorised over h.
  std::vector<T> acc(size_t(H), T(0));
  for (int64_t bt = 0; bt < B * L; ++bt) {
    const T* tt = th + bt * H;
    const T s = ds[bt];
    for (int64_t h = 0; h < H; ++h) acc[size_t(h)] += s * tt[h];
  }
  std::copy(acc.begin(), acc.end(), da);
}

template <class T>
void attentive_stats_forward_cpu(const T* logits, const T* x, T* y, T* w, T* v, int64_t B, int64_t C, int64_t Cw,
                                 int64_t L, bool with_std, StatClamp clamp, int threads) {
  const int64_t Y = with_std ? 2 * C : C;
  if (Cw == 1) {   // the frame weights first: one softmax per sequence
    for (int64_t b = 0; b < B; ++b) {
      std::copy(logits + b * L, logits + (b + 1) * L, w + b * L);
      softmax_inplace(w + b * L, L);
    }
  }
  const int64_t blocks = (C + kRowsPerUnit - 1) / kRowsPerUnit;
  parallel_units(B * blocks, threads, [&](int64_t u) {
    const int64_t b = u / blocks, c0 = (u % blocks) * kRowsPerUnit, c1 = std::min(C, c0 + kRowsPerUnit);
    for (int64_t c = c0; c < c1; ++c) {
      T* wr = w + (b * Cw + (Cw == 1 ? 0 : c)) * L;
      if (Cw != 1) {
        std::copy(logits + (b * C + c) * L, logits + (b * C + c + 1) * L, wr);
        softmax_inplace(wr, L);
      }
      const T* xr = x + (b * C + c) * L;
      T mu = dot(wr, xr, L), m2 = T(0);
      if (with_std) {
        T s[4] = {T(0), T(0), T(0), T(0)};
        int64_t t = 0;
        for (; t + 4 <= L; t += 4)
          for (int k = 0; k < 4; ++k) s[k] += wr[t + k] * xr[t + k] * xr[t + k];
        for (; t < L; ++t) s[0] += wr[t] * xr[t] * xr[t];
        m2 = (s[0] + s[1]) + (s[2] + s[3]);
      }
      T* yb = y + b * Y;
      yb[c] = mu;
      if (with_std) {
        const T var = m2 - mu * mu;
        v[b * C + c] = var;
        yb[C + c] = stat_std(var, clamp);
      }
    }
  });
}

template <class T>
void attentive_stats_backward_cpu(const T* x, const T* w, const T* y, const T* v, const T* dy, T* dlogits, T* dx,
                                  int64_t B, int64_t C, int64_t Cw, int64_t L, bool with_std, StatClamp clamp,
                                  int threads) {
  const int64_t Y = with_std ? 2 * C : C;
  // One row's dx, and its g_t = x (dmu' + dm2 x) added to (Cw = 1) or written into (Cw = C) g.
  auto row = [&](int64_t b, int64_t c, const T* wr, T* g, bool add) {
    const T* yb = y + b * Y;
    const T* dyb = dy + b * Y;
    const auto gr = with_std ? stat_grads(yb[c], yb[C + c], v[b * C + c], dyb[c], dyb[C + c], true, clamp)
                             : stat_grads(yb[c], T(0), T(0), dyb[c], T(0), false, clamp);
    const T* xr = x + (b * C + c) * L;
    T* dxr = dx + (b * C + c) * L;
    for (int64_t t = 0; t < L; ++t) {
      const T xv = xr[t], gt = xv * (gr.dmu + gr.dm2 * xv);
      g[t] = add ? g[t] + gt : gt;
      dxr[t] = wr[t] * (gr.dmu + T(2) * gr.dm2 * xv);
    }
  };
  // dlogits = w (g − Σ w g), in place over g.
  auto softmax_back = [&](const T* wr, T* g) {
    const T proj = T(weighted_sum(wr, g, L));
    for (int64_t t = 0; t < L; ++t) g[t] = wr[t] * (g[t] - proj);
  };
  if (Cw == 1) {   // the channels' g summed in ascending c per sequence
    parallel_units(B, threads, [&](int64_t b) {
      T* g = dlogits + b * L;
      for (int64_t c = 0; c < C; ++c) row(b, c, w + b * L, g, c > 0);
      softmax_back(w + b * L, g);
    });
    return;
  }
  const int64_t blocks = (C + kRowsPerUnit - 1) / kRowsPerUnit;
  parallel_units(B * blocks, threads, [&](int64_t u) {
    const int64_t b = u / blocks, c0 = (u % blocks) * kRowsPerUnit, c1 = std::min(C, c0 + kRowsPerUnit);
    for (int64_t c = c0; c < c1; ++c) {
      const T* wr = w + (b * C + c) * L;
      T* g = dlogits + (b * C + c) * L;
      row(b, c, wr, g, false);
      softmax_back(wr, g);
    }
  });
}

#define SPK_INSTANTIATE(T)                                                                                        \
  template void sap_pool_forward_cpu<T>(const T*, const T*, const T*, T*, T*, T*, T*, int64_t, int64_t, int64_t, \
                                        int64_t, bool, StatClamp, int);                                            \
  template void sap_pool_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, const T*, const T*, T*, \
                                         T*, T*, T*, int64_t, int64_t, int64_t, int64_t, bool, StatClamp, int);     \
  template void attentive_stats_forward_cpu<T>(const T*, const T*, T*, T*, T*, int64_t, int64_t, int64_t, int64_t, \
                                               bool, StatClamp, int);                                              \
  template void attentive_stats_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, int64_t, \
                                                int64_t, int64_t, int64_t, bool, StatClamp, int);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)
#undef SPK_INSTANTIATE

}  // namespace spk
