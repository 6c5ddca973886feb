// CPU reference of the GRU recurrence (kernels/gru/gru.h): plain loops, double accumulation. The sequences of a
// batch are independent in time, so the forward and the backward's time walk run one sequence per work unit; the
// weight gradients are a second pass, one row of dw_hh per unit, each summed over (b, t) in ascending order.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common/work_pool.h"
#include "kernels/gru/gru.h"

namespace spk {

namespace {

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// h_{t−1} of sequence b: h0 at t = 0, else the stored (rounded) output of the step before.
template <class T> const T* prev_h(const T* h0, const T* h, int64_t b, int64_t t, int64_t L, int64_t H) {
  return t == 0 ? h0 + b * H : h + (b * L + t - 1) * H;
}

}  // namespace

template <class T>
void gru_forward_cpu(const T* gi, const T* h0, const T* w_hh, const T* b_hh, T* h, T* gates, int64_t B, int64_t L,
                     int64_t H, int threads) {
  parallel_units(B, threads, [&](int64_t b) {
    std::vector<double> gh(static_cast<size_t>(3 * H));
    for (int64_t t = 0; t < L; ++t) {
      const T* hp = prev_h(h0, h, b, t, L, H);
      for (int64_t j = 0; j < 3 * H; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < H; ++k) acc += double(w_hh[j * H + k]) * double(hp[k]);
        gh[size_t(j)] = acc + (b_hh ? double(b_hh[j]) : 0.0);
      }
      const T* g = gi + (b * L + t) * 3 * H;
      T* gt = gates + (b * L + t) * 4 * H;
      T* ht = h + (b * L + t) * H;
      for (int64_t c = 0; c < H; ++c) {
        const double r = sigmoid(double(g[c]) + gh[size_t(c)]);
        const double z = sigmoid(double(g[H + c]) + gh[size_t(H + c)]);
        const double n = std::tanh(double(g[2 * H + c]) + r * gh[size_t(2 * H + c)]);
        gt[c] = T(r);
        gt[H + c] = T(z);
        gt[2 * H + c] = T(n);
        gt[3 * H + c] = T(gh[size_t(2 * H + c)]);
        ht[c] = T((1.0 - z) * n + z * double(hp[c]));
      }
    }
  });
}

template <class T>
void gru_backward_cpu(const T* h0, const T* w_hh, const T* h, const T* gates, const T* dh, T* dgi, T* dh0, T* dw_hh,
                      T* db_hh, int64_t B, int64_t L, int64_t H, int threads) {
  // Pass 1, per sequence, backwards in time: the gate gradients dgi and the carry δ into the step before.
  parallel_units(B, threads, [&](int64_t b) {
    std::vector<double> carry(static_cast<size_t>(H), 0.0), direct(static_cast<size_t>(H)), dgh(static_cast<size_t>(3 * H)),
        acc(static_cast<size_t>(H));
    for (int64_t t = L - 1; t >= 0; --t) {
      const T* hp = prev_h(h0, h, b, t, L, H);
      const T* gt = gates + (b * L + t) * 4 * H;
      const T* d_out = dh + (b * L + t) * H;
      T* dg = dgi + (b * L + t) * 3 * H;
      for (int64_t c = 0; c < H; ++c) {
        const double r = double(gt[c]), z = double(gt[H + c]), n = double(gt[2 * H + c]), ghn = double(gt[3 * H + c]);
        const double d = double(d_out[c]) + carry[size_t(c)];
        const double a_n = d * (1.0 - z) * (1.0 - n * n);
        const double a_r = a_n * ghn * r * (1.0 - r);
        const double a_z = d * (double(hp[c]) - n) * z * (1.0 - z);
        dg[c] = T(a_r);
        dg[H + c] = T(a_z);
        dg[2 * H + c] = T(a_n);
        direct[size_t(c)] = d * z;
      }
      // dgh from the rounded dgi, as pass 2 and the CUDA kernel read it.
      for (int64_t c = 0; c < H; ++c) {
        dgh[size_t(c)] = double(dg[c]);
        dgh[size_t(H + c)] = double(dg[H + c]);
        dgh[size_t(2 * H + c)] = double(dg[2 * H + c]) * double(gt[c]);
      }
      // W_hhᵀ dgh: ascending j per k, reading rows of W_hh.
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = 0; j < 3 * H; ++j) {
        const double v = dgh[size_t(j)];
        for (int64_t k = 0; k < H; ++k) acc[size_t(k)] += double(w_hh[j * H + k]) * v;
      }
      for (int64_t k = 0; k < H; ++k) carry[size_t(k)] = direct[size_t(k)] + acc[size_t(k)];
    }
    if (dh0)
      for (int64_t k = 0; k < H; ++k) dh0[b * H + k] = T(carry[size_t(k)]);
  });
  // Pass 2, per row j of W_hh: dw_hh[j, :] = Σ_b Σ_t dgh[b, t, j] h_p[b, t, :] and db_hh[j] = Σ_b Σ_t dgh[b, t, j].
  parallel_units(3 * H, threads, [&](int64_t j) {
    std::vector<double> acc(static_cast<size_t>(H), 0.0);
    double bias = 0;
    const int64_t c = j % H;
    const bool n_gate = j >= 2 * H;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < L; ++t) {
        const int64_t bt = b * L + t;
        const double v = n_gate ? double(dgi[bt * 3 * H + j]) * double(gates[bt * 4 * H + c]) : double(dgi[bt * 3 * H + j]);
        const T* hp = prev_h(h0, h, b, t, L, H);
        for (int64_t k = 0; k < H; ++k) acc[size_t(k)] += v * double(hp[k]);
        bias += v;
      }
    for (int64_t k = 0; k < H; ++k) dw_hh[j * H + k] = T(acc[size_t(k)]);
    if (db_hh) db_hh[j] = T(bias);
  });
}

template void gru_forward_cpu<float>(const float*, const float*, const float*, const float*, float*, float*, int64_t,
                                     int64_t, int64_t, int);
template void gru_forward_cpu<double>(const double*, const double*, const double*, const double*, double*, double*,
                                      int64_t, int64_t, int64_t, int);
template void gru_backward_cpu<float>(const float*, const float*, const float*, const float*, const float*, float*,
                                      float*, float*, float*, int64_t, int64_t, int64_t, int);
template void gru_backward_cpu<double>(const double*, const double*, const double*, const double*, const double*,
                                       double*, double*, double*, double*, int64_t, int64_t, int64_t, int);

}  // namespace spk
