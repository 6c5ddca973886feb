// The per-element pieces of the CUDA log-mel kernel, as host+device functions (SPK_HD), so the exact index
// arithmetic and FFT the GPU runs can also be run on the CPU: tests/audio/test_fbank.cpp composes them into a
// sequential emulation of fbank_cuda.cu and checks it against torchaudio's golden outputs on machines without a GPU.
//
// The FFT: a frame of n_fft = 2N real samples r is packed as N complex values z[n] = r[2n] + i·r[2n+1], transformed
// by an N-point Stockham autosort FFT (radix-4 stages, one radix-2 stage when log2 N is odd; out of place, natural
// order in and out, so each stage is one read and one write of a shared-memory buffer), and untangled into the
// n_fft/2 + 1 one-sided bins of the real FFT. Twiddles come from one table tw[m] = exp(-2πi·m/n_fft), m < n_fft,
// which serves both the N-point stages (even entries) and the untangling (entries 0..N).
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/half.h"   // SPK_HD
#include "kernels/fbank/fbank.h"

namespace spk {

struct alignas(8) FbankComplex {
  float x, y;
};

SPK_HD FbankComplex fbank_cmul(FbankComplex a, FbankComplex b) {
  return {a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x};
}

// Everything a frame needs from the config, flattened for a kernel argument.
struct FbankKernelParams {
  int64_t L = 0, T = 0;        // samples per utterance, frames per utterance
  int n_fft = 0, win_length = 0, win_offset = 0, hop = 0, n_mels = 0, n_weights = 0;
  int64_t shift = 0;           // source index of window sample n of frame t is t·hop + n - shift (before mirroring)
  int mirror = 0;              // 0: none (index always inside), 1: torch reflect (x[-1] = x[1]), 2: Kaldi (x[-1] = x[0])
  float scale = 1;             // input_scale
  float preemph_signal = 0;    // torchaudio mode: whole-signal pre-emphasis
  float preemph_frame = 0;     // kaldi mode: per-frame pre-emphasis after DC removal
  int remove_dc = 0;           // kaldi mode
  int log = 1;
  float energy_offset = 0, energy_floor = 0;
};

inline FbankKernelParams fbank_kernel_params(const FbankConfig& c, int64_t L, int n_weights) {
  FbankKernelParams p;
  p.L = L;
  p.T = fbank_num_frames(c, L);
  p.n_fft = c.n_fft;
  p.win_length = c.win_length;
  p.win_offset = c.mode == FbankMode::torchaudio ? (c.n_fft - c.win_length) / 2 : 0;
  p.hop = c.hop_length;
  p.n_mels = c.n_mels;
  p.n_weights = n_weights;
  p.scale = float(c.input_scale);
  p.log = c.log ? 1 : 0;
  p.energy_offset = float(c.energy_offset);
  p.energy_floor = float(c.energy_floor);
  if (c.mode == FbankMode::torchaudio) {
    // Frame t covers padded positions t·hop + [0, n_fft) with the window at [win_offset, win_offset + win_length);
    // center=True pads n_fft/2 on the left.
    p.shift = (c.center ? c.n_fft / 2 : 0) - p.win_offset;
    p.mirror = c.center ? 1 : 0;
    p.preemph_signal = float(c.preemph);
  } else {
    p.shift = c.snip_edges ? 0 : c.win_length / 2 - c.hop_length / 2;
    p.mirror = c.snip_edges ? 0 : 2;
    p.preemph_frame = float(c.preemph);
    p.remove_dc = c.remove_dc_offset ? 1 : 0;
  }
  return p;
}

// Index into the utterance of window sample n (< win_length) of frame t.
SPK_HD int64_t fbank_source_index(const FbankKernelParams& p, int64_t t, int n) {
  int64_t i = t * p.hop + n - p.shift;
  if (p.mirror == 1) {
    if (i < 0) i = -i;
    if (i >= p.L) i = 2 * (p.L - 1) - i;
  } else if (p.mirror == 2) {
    if (i < 0) i = -i - 1;
    if (i >= p.L) i = 2 * p.L - 1 - i;
  }
  return i;
}

// Window sample n of frame t as the frame sees it before DC removal: scaled, with torchaudio's whole-signal
// pre-emphasis applied at the (mirrored) source index (the signal is pre-emphasised before it is padded).
SPK_HD float fbank_raw_sample(const FbankKernelParams& p, const float* x, int64_t t, int n) {
  const int64_t i = fbank_source_index(p, t, n);
  float v = x[i];
  if (p.preemph_signal != 0.f) v -= p.preemph_signal * x[i > 0 ? i - 1 : 1];
  return v * p.scale;
}

// Real frame value at frame position q (< n_fft) from this frame's raw window samples and DC mean: Kaldi's
// per-frame pre-emphasis (first sample uses itself), the window, zeros outside the window.
SPK_HD float fbank_frame_value(const FbankKernelParams& p, const float* raw, float mean, const float* window, int q) {
  const int n = q - p.win_offset;
  if (n < 0 || n >= p.win_length) return 0.f;
  const float cur = raw[n] - mean, prev = raw[n > 0 ? n - 1 : 0] - mean;
  return (cur - p.preemph_frame * prev) * window[n];
}

// tw[m] = exp(-2πi·m/n_fft). The device uses sincospif (argument 2m/n_fft is exact for a power-of-two n_fft);
// the host rounds the double value.
SPK_HD FbankComplex fbank_twiddle(int m, int n_fft) {
#if defined(__CUDA_ARCH__)
  float s, c;
  sincospif(2.0f * float(m) / float(n_fft), &s, &c);
  return {c, -s};
#else
  const double a = 2.0 * M_PI * double(m) / double(n_fft);
  return {float(std::cos(a)), float(-std::sin(a))};
#endif
}

// Radix of the Stockham stage whose sub-transforms have length Ns (product of the earlier radices).
SPK_HD int fbank_stage_radix(int N, int Ns) { return (N / Ns) % 4 == 0 ? 4 : 2; }

// Butterfly j (< N/R) of the radix-R Stockham stage with span Ns: reads src[j + r·N/R], twiddles by
// exp(-2πi·r·(j mod Ns)/(Ns·R)), does an R-point DFT, writes dst[(j/Ns)·Ns·R + j mod Ns + r·Ns].
// tw[m] = exp(-2πi·m/(2N)), so the stage twiddle index is r·(j mod Ns)·2N/(Ns·R).
// R is a template argument so the R values stay in registers (no local-memory array on the GPU).
template <int R>
SPK_HD void fbank_stockham_butterfly_r(int j, int N, int Ns, const FbankComplex* src, FbankComplex* dst,
                                       const FbankComplex* tw) {
  const int k = j % Ns, stride = N / R, step = 2 * N / (Ns * R);
  FbankComplex v[R];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int r = 0; r < R; ++r) {
    v[r] = src[j + r * stride];
    if (r > 0) v[r] = fbank_cmul(v[r], tw[r * k * step]);
  }
  const int d = (j / Ns) * Ns * R + k;
  if constexpr (R == 2) {
    dst[d] = {v[0].x + v[1].x, v[0].y + v[1].y};
    dst[d + Ns] = {v[0].x - v[1].x, v[0].y - v[1].y};
  } else {
    // 4-point DFT: X0 = a + c, X2 = a - c, X1 = b - i·e, X3 = b + i·e with a = v0 + v2, b = v0 - v2,
    // c = v1 + v3, e = v1 - v3.
    const FbankComplex a = {v[0].x + v[2].x, v[0].y + v[2].y}, b = {v[0].x - v[2].x, v[0].y - v[2].y};
    const FbankComplex c = {v[1].x + v[3].x, v[1].y + v[3].y}, e = {v[1].x - v[3].x, v[1].y - v[3].y};
    dst[d] = {a.x + c.x, a.y + c.y};
    dst[d + Ns] = {b.x + e.y, b.y - e.x};
    dst[d + 2 * Ns] = {a.x - c.x, a.y - c.y};
    dst[d + 3 * Ns] = {b.x - e.y, b.y + e.x};
  }
}

SPK_HD void fbank_stockham_butterfly(int j, int N, int Ns, int R, const FbankComplex* src, FbankComplex* dst,
                                     const FbankComplex* tw) {
  if (R == 4)
    fbank_stockham_butterfly_r<4>(j, N, Ns, src, dst, tw);
  else
    fbank_stockham_butterfly_r<2>(j, N, Ns, src, dst, tw);
}

// |X[k]|² of the real n_fft-point FFT, k in [0, N], from the packed N-point FFT Z:
//   X[k] = E[k] + tw[k]·O[k],  E = (Z[k] + conj Z[N-k]) / 2,  O = (Z[k] - conj Z[N-k]) / (2i)   (indices mod N).
SPK_HD float fbank_power_bin(const FbankComplex* Z, int N, int k, const FbankComplex* tw) {
  const FbankComplex a = Z[k % N], b = Z[(N - k) % N];
  const float er = 0.5f * (a.x + b.x), ei = 0.5f * (a.y - b.y);
  const float o_r = 0.5f * (a.y + b.y), o_i = -0.5f * (a.x - b.x);   // (a - conj b)/2 divided by i
  const FbankComplex w = tw[k];
  const float xr = er + w.x * o_r - w.y * o_i, xi = ei + w.x * o_i + w.y * o_r;
  return xr * xr + xi * xi;
}

// Mel filter m applied to one frame's power spectrum, then offset, floor and log as configured.
SPK_HD float fbank_mel_energy(const FbankKernelParams& p, const float* power, const float* weight,
                              const int32_t* first, const int32_t* offset, int m) {
  float e = 0.f;
  for (int32_t j = offset[m]; j < offset[m + 1]; ++j) e += weight[j] * power[first[m] + j - offset[m]];
  e += p.energy_offset;
  return p.log ? logf(fmaxf(e, p.energy_floor)) : e;
}

}  // namespace spk
