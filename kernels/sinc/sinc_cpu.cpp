// CPU reference of the SincNet filters and their backward (formulas in kernels/sinc/sinc.h), and the sinc conv
// as those filters followed by the conv kernel (im2col + GEMM, kernels/conv). Plain loops in double.
#include <cmath>
#include <numbers>

#include "kernels/sinc/sinc.h"

namespace spk {

double sinc_window(const SincParams& p, int64_t j) {
  const int64_t half = p.K / 2;
  const double K = double(p.K);
  if (p.kind == SincKind::asteroid) return 0.54 - 0.46 * std::cos(2 * std::numbers::pi * double(j) / (K - 1));
  // torch.linspace(0, K/2 - 1, steps=int(K/2)): the step is (K/2 - 1)/(int(K/2) - 1), not 1, for odd K.
  const double n = half > 1 ? double(j) * (K / 2 - 1) / double(half - 1) : 0.0;
  return 0.54 - 0.46 * std::cos(2 * std::numbers::pi * n / K);
}

namespace {

// The cut-offs of row c and which of low_hz_/band_hz_ reach the high cut-off through the clamp.
struct Cutoffs {
  double a, b;          // low and high cut-off (Hz)
  double sa, sb;        // d|low_hz_|/dlow_hz_, d|band_hz_|/dband_hz_ (sign, 0 at 0)
  bool pass;            // the clamp passes the gradient to b
};

double sign(double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; }

template <class T>
Cutoffs cutoffs(const SincParams& p, const T* low_hz, const T* band_hz, int64_t c) {
  Cutoffs k;
  const double l = double(low_hz[c]), bw = double(band_hz[c]);
  k.a = p.min_low_hz + std::abs(l);
  const double hi = k.a + p.min_band_hz + std::abs(bw);
  k.pass = hi >= p.min_low_hz && hi <= p.sample_rate / 2;
  k.b = std::fmin(std::fmax(hi, p.min_low_hz), p.sample_rate / 2);
  k.sa = sign(l);
  k.sb = sign(bw);
  return k;
}

double tap_time(const SincParams& p, int64_t j) {   // t_j = 2π(j − H)/fs, j < H
  return 2 * std::numbers::pi * double(j - p.K / 2) / p.sample_rate;
}

}  // namespace

template <class T>
void sinc_filters_forward_cpu(const SincParams& p, const T* low_hz, const T* band_hz, T* filters) {
  const int64_t K = p.K, H = K / 2;
  for (int64_t c = 0; c < p.C; ++c) {
    const Cutoffs k = cutoffs(p, low_hz, band_hz, c);
    const double band = k.b - k.a;
    T* cosr = filters + c * K;
    T* sinr = p.kind == SincKind::asteroid ? filters + (p.C + c) * K : nullptr;
    for (int64_t j = 0; j < H; ++j) {
      const double t = tap_time(p, j), w = sinc_window(p, j);
      const double hc = (std::sin(k.b * t) - std::sin(k.a * t)) / (t / 2) * w / (2 * band);
      cosr[j] = cosr[K - 1 - j] = T(hc);
      if (sinr) {
        const double hs = (std::cos(k.a * t) - std::cos(k.b * t)) / (t / 2) * w / (2 * band);
        sinr[j] = T(hs);
        sinr[K - 1 - j] = T(-hs);
      }
    }
    cosr[H] = T(1);
    if (sinr) sinr[H] = T(0);
  }
}

// With S the row's trigonometric term (cos row: S(x) = sin(x·t); sin row: S(x) = −cos(x·t)) a left tap is
// h = w·(S(b) − S(a))/(t·band), band = b − a, so
//   dh/db = w·(S'(b)/(t·band) − (S(b) − S(a))/(t·band²)),  dh/da = w·(−S'(a)/(t·band) + (S(b) − S(a))/(t·band²))
// with S' = t·cos(x·t) (cos row) or t·sin(x·t) (sin row). A right tap is the same (cos) or its negative (sin);
// the centre tap is a constant. Then a = min_low + |l|, b = clamp(a + min_band + |bw|) give
//   dl = sign(l)·(dA + pass·dB),  dbw = sign(bw)·pass·dB   with dA = Σ g·dh/da, dB = Σ g·dh/db.
template <class T>
void sinc_filters_backward_cpu(const SincParams& p, const T* low_hz, const T* band_hz, const T* dfilters, T* dlow_hz,
                               T* dband_hz) {
  const int64_t K = p.K, H = K / 2;
  for (int64_t c = 0; c < p.C; ++c) {
    const Cutoffs k = cutoffs(p, low_hz, band_hz, c);
    const double band = k.b - k.a;
    double dA = 0, dB = 0;
    const int rows = p.kind == SincKind::asteroid ? 2 : 1;
    for (int r = 0; r < rows; ++r) {
      const T* g = dfilters + (r * p.C + c) * K;
      for (int64_t j = 0; j < H; ++j) {
        const double t = tap_time(p, j), w = sinc_window(p, j);
        // The two mirrored taps share dh: the sin row's right tap is −h.
        const double gj = double(g[j]) + (r == 0 ? 1.0 : -1.0) * double(g[K - 1 - j]);
        const double Sa = r == 0 ? std::sin(k.a * t) : -std::cos(k.a * t);
        const double Sb = r == 0 ? std::sin(k.b * t) : -std::cos(k.b * t);
        const double dSa = r == 0 ? t * std::cos(k.a * t) : t * std::sin(k.a * t);
        const double dSb = r == 0 ? t * std::cos(k.b * t) : t * std::sin(k.b * t);
        const double q = (Sb - Sa) / (t * band * band);
        dA += gj * w * (-dSa / (t * band) + q);
        dB += gj * w * (dSb / (t * band) - q);
      }
    }
    const double pB = k.pass ? dB : 0.0;
    if (dlow_hz) dlow_hz[c] = T(k.sa * (dA + pB));
    if (dband_hz) dband_hz[c] = T(k.sb * pB);
  }
}

template <class T>
void sinc_conv1d_forward_cpu(const SincParams& p, const ConvGeom& g, const T* x, const T* low_hz, const T* band_hz,
                             T* filters, T* y, const ConvCpuOptions& opt) {
  sinc_filters_forward_cpu<T>(p, low_hz, band_hz, filters);
  conv1d_forward_cpu<T>(g, x, filters, nullptr, y, opt);
}

#define SPK_SINC_INSTANTIATE(T)                                                                                    \
  template void sinc_filters_forward_cpu<T>(const SincParams&, const T*, const T*, T*);                            \
  template void sinc_filters_backward_cpu<T>(const SincParams&, const T*, const T*, const T*, T*, T*);             \
  template void sinc_conv1d_forward_cpu<T>(const SincParams&, const ConvGeom&, const T*, const T*, const T*, T*,   \
                                           T*, const ConvCpuOptions&);
SPK_SINC_INSTANTIATE(float)
SPK_SINC_INSTANTIATE(double)
#undef SPK_SINC_INSTANTIATE

}  // namespace spk
