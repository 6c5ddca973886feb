// CPU reference of the attention core (kernels/attention/attention.h): plain loops, double accumulation.
// Serial: the op serves small heads (the blip ITM head is one 300 × 300 sequence of 4 heads, ~50 MFLOP).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention/attention.h"

namespace spk {

template <class T>
void attention_forward_cpu(const T* q, const T* k, const T* v, T* out, T* probs, int64_t B, int64_t H, int64_t Lq,
                           int64_t Lk, int64_t Dh) {
  const int64_t E = H * Dh;
  const double s = 1.0 / std::sqrt(double(Dh));
  std::vector<double> row(static_cast<size_t>(Lk)), acc(static_cast<size_t>(Dh));
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    const T* qb = q + b * Lq * E + h * Dh;
    const T* kb = k + b * Lk * E + h * Dh;
    const T* vb = v + b * Lk * E + h * Dh;
    T* ob = out + b * Lq * E + h * Dh;
    T* pb = probs + bh * Lq * Lk;
    for (int64_t i = 0; i < Lq; ++i) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < Lk; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < Dh; ++c) dot += double(qb[i * E + c]) * double(kb[j * E + c]);
        row[size_t(j)] = dot * s;
        mx = std::max(mx, row[size_t(j)]);
      }
      double sum = 0;
      for (int64_t j = 0; j < Lk; ++j) {
        row[size_t(j)] = std::exp(row[size_t(j)] - mx);
        sum += row[size_t(j)];
      }
      for (int64_t j = 0; j < Lk; ++j) pb[i * Lk + j] = T(row[size_t(j)] / sum);
      // Σ_j P_ij·v[j, c] for every c at once: the same ascending-j sum per c, reading rows of v.
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = 0; j < Lk; ++j) {
        const double p = double(pb[i * Lk + j]);
        for (int64_t c = 0; c < Dh; ++c) acc[size_t(c)] += p * double(vb[j * E + c]);
      }
      for (int64_t c = 0; c < Dh; ++c) ob[i * E + c] = T(acc[size_t(c)]);
    }
  }
}

template <class T>
void attention_backward_cpu(const T* q, const T* k, const T* v, const T* probs, const T* dout, T* dq, T* dk, T* dv,
                            int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t Dh) {
  const int64_t E = H * Dh;
  const double s = 1.0 / std::sqrt(double(Dh));
  std::vector<double> ds(static_cast<size_t>(Lq * Lk));   // dS of one (b, h)
  std::vector<double> ak(static_cast<size_t>(Dh)), av(static_cast<size_t>(Dh));
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    const T* qb = q + b * Lq * E + h * Dh;
    const T* kb = k + b * Lk * E + h * Dh;
    const T* vb = v + b * Lk * E + h * Dh;
    const T* gb = dout + b * Lq * E + h * Dh;
    const T* pb = probs + bh * Lq * Lk;
    for (int64_t i = 0; i < Lq; ++i) {
      double dot_pp = 0;   // Σ_j dP_ij · P_ij
      for (int64_t j = 0; j < Lk; ++j) {
        double dp = 0;
        for (int64_t c = 0; c < Dh; ++c) dp += double(gb[i * E + c]) * double(vb[j * E + c]);
        ds[size_t(i * Lk + j)] = dp;
        dot_pp += dp * double(pb[i * Lk + j]);
      }
      for (int64_t j = 0; j < Lk; ++j)
        ds[size_t(i * Lk + j)] = double(pb[i * Lk + j]) * (ds[size_t(i * Lk + j)] - dot_pp);
    }
    if (dq) {
      T* dqb = dq + b * Lq * E + h * Dh;
      for (int64_t i = 0; i < Lq; ++i) {
        std::fill(ak.begin(), ak.end(), 0.0);
        for (int64_t j = 0; j < Lk; ++j)
          for (int64_t c = 0; c < Dh; ++c) ak[size_t(c)] += ds[size_t(i * Lk + j)] * double(kb[j * E + c]);
        for (int64_t c = 0; c < Dh; ++c) dqb[i * E + c] = T(ak[size_t(c)] * s);
      }
    }
    // Per key row j, the ascending-i sums for every c at once (rows of q and dout are contiguous).
    for (int64_t j = 0; j < Lk; ++j) {
      std::fill(ak.begin(), ak.end(), 0.0);
      std::fill(av.begin(), av.end(), 0.0);
      for (int64_t i = 0; i < Lq; ++i) {
        const double d = ds[size_t(i * Lk + j)], p = double(pb[i * Lk + j]);
        for (int64_t c = 0; c < Dh; ++c) {
          ak[size_t(c)] += d * double(qb[i * E + c]);
          av[size_t(c)] += p * double(gb[i * E + c]);
        }
      }
      for (int64_t c = 0; c < Dh; ++c) {
        if (dk) dk[b * Lk * E + h * Dh + j * E + c] = T(ak[size_t(c)] * s);
        if (dv) dv[b * Lk * E + h * Dh + j * E + c] = T(av[size_t(c)]);
      }
    }
  }
}

#define SPK_INSTANTIATE(T)                                                                                        \
  template void attention_forward_cpu<T>(const T*, const T*, const T*, T*, T*, int64_t, int64_t, int64_t, int64_t, \
                                         int64_t);                                                                \
  template void attention_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, int64_t,   \
                                          int64_t, int64_t, int64_t, int64_t);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
