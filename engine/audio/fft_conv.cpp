// Real-FFT convolution (see fft_conv.h for why it lives here).
//
// A real sequence r of even length N is transformed as z[j] = r[2j] + i r[2j+1] with an M = N/2 point complex
// FFT Z; the even/odd half spectra are Fe = (Z[k] + conj Z[M-k]) / 2 and Fo = (Z[k] - conj Z[M-k]) / 2i, and
// R[k] = Fe[k] + W^k Fo[k], W = exp(-2πi/N), for k = 0..M (the rest is conjugate-symmetric). The inverse
// runs the same steps backwards. The complex FFT is iterative radix-2 on split (re, im) arrays with a per-size
// plan (per-stage contiguous twiddles computed once in double, bit-reversal table), cached per thread so
// loader workers never share or lock it.
#include "engine/audio/fft_conv.h"

#include <cmath>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "engine/check.h"
#include "kernels/fft/fft.h"

namespace spk::audio {
namespace {

struct Plan {
  int64_t n = 0;                 // real length N (power of two >= 2)
  int64_t m = 0;                 // complex length N / 2
  std::vector<int32_t> rev;      // bit reversal over m (int32: half the cache footprint of the scatter)
  std::vector<float> twr, twi;   // per stage of half-size h, at offset h - 1: exp(-2πi k / 2h), k < h
  std::vector<float> sr, si;     // exp(-2πi k / N), k = 0..m
  std::vector<float> zr, zi;     // (m) scratch, split complex
  std::vector<float> xr, xi, hr, hi;   // (m + 1) scratch spectra
};

Plan& plan_for(int64_t n) {
  thread_local std::map<int64_t, std::unique_ptr<Plan>> cache;
  auto& slot = cache[n];
  if (slot) return *slot;
  auto p = std::make_unique<Plan>();
  p->n = n;
  p->m = n / 2;
  const int64_t m = p->m;
  p->rev.resize(size_t(m));
  for (int64_t i = 0, j = 0; i < m; ++i) {
    p->rev[size_t(i)] = int32_t(j);
    int64_t bit = m >> 1;
    for (; bit && (j & bit); bit >>= 1) j ^= bit;
    j |= bit;
  }
  p->twr.resize(size_t(std::max<int64_t>(m - 1, 1)));
  p->twi.resize(p->twr.size());
  for (int64_t h = 1; h < m; h <<= 1)
    for (int64_t k = 0; k < h; ++k) {
      p->twr[size_t(h - 1 + k)] = float(std::cos(M_PI * double(k) / double(h)));
      p->twi[size_t(h - 1 + k)] = float(-std::sin(M_PI * double(k) / double(h)));
    }
  p->sr.resize(size_t(m + 1));
  p->si.resize(size_t(m + 1));
  for (int64_t k = 0; k <= m; ++k) {
    p->sr[size_t(k)] = float(std::cos(2 * M_PI * double(k) / double(n)));
    p->si[size_t(k)] = float(-std::sin(2 * M_PI * double(k) / double(n)));
  }
  for (auto* v : {&p->zr, &p->zi}) v->resize(size_t(m));
  for (auto* v : {&p->xr, &p->xi, &p->hr, &p->hi}) v->resize(size_t(m + 1));
  slot = std::move(p);
  return *slot;
}

// One block of radix-2 butterflies: (u, v) <- (u + w·v, u - w·v), w = (wr, sgn·wi), over h contiguous points.
// Separate restrict-qualified arrays let the compiler vectorise it.
void butterflies(float* __restrict ur, float* __restrict ui, float* __restrict vr, float* __restrict vi,
                 const float* __restrict wr, const float* __restrict wi, int64_t h, float sgn) {
  for (int64_t k = 0; k < h; ++k) {
    const float w_i = sgn * wi[k];
    const float tr = vr[k] * wr[k] - vi[k] * w_i, ti = vr[k] * w_i + vi[k] * wr[k];
    const float a = ur[k], b = ui[k];
    ur[k] = a + tr;
    ui[k] = b + ti;
    vr[k] = a - tr;
    vi[k] = b - ti;
  }
}

// Butterfly stages of an in-place complex FFT of p.m points in split form, input already in bit-reversed
// order. inverse: conjugate twiddles, unnormalised.
void cfft_stages(float* re, float* im, const Plan& p, bool inverse) {
  const int64_t m = p.m;
  const float sgn = inverse ? -1.f : 1.f;
  // The first two stages have trivial twiddles (1; 1 and ∓i): no multiplies, no per-block call.
  if (m >= 2)
    for (int64_t i = 0; i < m; i += 2) {
      const float ar = re[i], ai = im[i], br = re[i + 1], bi = im[i + 1];
      re[i] = ar + br, im[i] = ai + bi, re[i + 1] = ar - br, im[i + 1] = ai - bi;
    }
  if (m >= 4)
    for (int64_t i = 0; i < m; i += 4) {
      float ar = re[i], ai = im[i], br = re[i + 2], bi = im[i + 2];
      re[i] = ar + br, im[i] = ai + bi, re[i + 2] = ar - br, im[i + 2] = ai - bi;
      // w = -i (forward) or +i (inverse): w·v = (sgn·vi, -sgn·vr)
      ar = re[i + 1], ai = im[i + 1];
      const float tr = sgn * im[i + 3], ti = -sgn * re[i + 3];
      re[i + 1] = ar + tr, im[i + 1] = ai + ti, re[i + 3] = ar - tr, im[i + 3] = ai - ti;
    }
  for (int64_t h = 4; h < m; h <<= 1) {
    const float* wr = p.twr.data() + (h - 1);
    const float* wi = p.twi.data() + (h - 1);
    for (int64_t i = 0; i < m; i += 2 * h) butterflies(re + i, im + i, re + i + h, im + i + h, wr, wi, h, sgn);
  }
}

// Spectrum (Rr, Ri)[0..m] of the real sequence r[0:len], zero-padded to p.n.
void real_forward(const float* r, int64_t len, Plan& p, float* Rr, float* Ri) {
  const int64_t m = p.m;
  float *zr = p.zr.data(), *zi = p.zi.data();
  // z[j] = r[2j] + i r[2j+1], scattered straight to bit-reversed positions.
  for (int64_t j = 0; j < m; ++j) {
    const int64_t t = p.rev[size_t(j)];
    zr[t] = 2 * j < len ? r[2 * j] : 0.f;
    zi[t] = 2 * j + 1 < len ? r[2 * j + 1] : 0.f;
  }
  cfft_stages(zr, zi, p, false);
  for (int64_t k = 0; k <= m; ++k) {
    const int64_t k1 = k == m ? 0 : k, k2 = k == 0 ? 0 : m - k;        // indices mod m
    const float ar = zr[k1], ai = zi[k1], cr = zr[k2], ci = -zi[k2];   // Z[k], conj Z[m-k]
    const float er = 0.5f * (ar + cr), ei = 0.5f * (ai + ci);         // Fe
    const float orr = 0.5f * (ai - ci), oi = -0.5f * (ar - cr);       // Fo = (Z - conj) / 2i
    const float wr = p.sr[size_t(k)], wi = p.si[size_t(k)];
    Rr[k] = er + (wr * orr - wi * oi);
    Ri[k] = ei + (wr * oi + wi * orr);
  }
}

// Inverse of real_forward: r[0:len] from (Rr, Ri)[0..m].
void real_inverse(const float* Rr, const float* Ri, Plan& p, float* r, int64_t len) {
  const int64_t m = p.m;
  float *zr = p.zr.data(), *zi = p.zi.data();
  for (int64_t k = 0; k < m; ++k) {
    const float xr = Rr[k], xi = Ri[k], cr = Rr[m - k], ci = -Ri[m - k];   // R[k], conj R[m-k]
    const float er = 0.5f * (xr + cr), ei = 0.5f * (xi + ci);
    const float dr = 0.5f * (xr - cr), di = 0.5f * (xi - ci);
    const float wr = p.sr[size_t(k)], wi = -p.si[size_t(k)];   // W^-k
    const float orr = dr * wr - di * wi, oi = dr * wi + di * wr;
    const int64_t t = p.rev[size_t(k)];
    zr[t] = er - oi;   // Fe + i Fo
    zi[t] = ei + orr;
  }
  cfft_stages(zr, zi, p, true);
  const float inv = 1.0f / float(m);
  for (int64_t i = 0; i < len; ++i) r[i] = (i & 1 ? zi[i / 2] : zr[i / 2]) * inv;
}

}  // namespace

void fft_convolve_head(const float* x, int64_t n, const float* h, int64_t h_len, float* out) {
  SPK_CHECK(n >= 0 && h_len >= 1, "fft_convolve_head: n=", n, " h_len=", h_len);
  if (n == 0) return;
  const int64_t taps = std::min(h_len, n);   // taps beyond n cannot reach the first n outputs
  const int64_t N = std::max<int64_t>(2, next_pow2(n + taps - 1));
  Plan& p = plan_for(N);
  float *Xr = p.xr.data(), *Xi = p.xi.data(), *Hr = p.hr.data(), *Hi = p.hi.data();
  real_forward(x, n, p, Xr, Xi);
  real_forward(h, taps, p, Hr, Hi);
  for (int64_t k = 0; k <= p.m; ++k) {
    const float ar = Xr[k], ai = Xi[k];
    Xr[k] = ar * Hr[k] - ai * Hi[k];
    Xi[k] = ar * Hi[k] + ai * Hr[k];
  }
  real_inverse(Xr, Xi, p, out, n);
}

}  // namespace spk::audio
