// SincNet band-pass filters (Ravanelli & Bengio, "Speaker Recognition from raw waveform with SincNet", SLT 2018)
// from learnable cut-offs, and their 1-d convolution with a mono waveform.
//
// Per cut-off row c (C rows; low_hz_, band_hz_ are the learnable parameters, as the references name them):
//   a = min_low_hz + |low_hz_[c]|                                        (low cut-off, Hz)
//   b = clamp(a + min_band_hz + |band_hz_[c]|, min_low_hz, fs/2)         (high cut-off, Hz)
//   for the K = 2H + 1 taps, t_j = 2π(j − H)/fs, j < H (the left half; the right half mirrors it):
//     cos row:  h[j] = w[j]·(sin(b·t_j) − sin(a·t_j)) / (t_j/2) / (2(b − a)),  h[H] = 1,  h[K−1−j] = h[j]
//     sin row:  h[j] = w[j]·(cos(a·t_j) − cos(b·t_j)) / (t_j/2) / (2(b − a)),  h[H] = 0,  h[K−1−j] = −h[j]
// (the ideal band-pass 2b·sinc(2πb·m/fs) − 2a·sinc(2πa·m/fs), m = j − H, windowed and divided by 2(b − a), its
// value at m = 0.)
// Conventions (SincKind):
//   sincnet   pyannote-audio 1.x SincConv1d / mravanelli/SincNet sinc_conv: C cos rows; the half Hamming
//             window w[j] = 0.54 − 0.46·cos(2π·j·(K/2 − 1)/(⌊K/2⌋ − 1) / K) (torch.linspace(0, K/2 − 1, ⌊K/2⌋))
//   asteroid  asteroid-filterbanks ParamSincFB (voxceleb_trainer's RawNet3): C cos rows, then C sin rows
//             (2C filters); w[j] = np.hamming(K)[j] = 0.54 − 0.46·cos(2πj/(K − 1))
// The gradient follows PyTorch's autograd of that formula: d|x|/dx = sign(x) (0 at 0), and clamp passes the
// gradient only when min_low_hz <= a + min_band_hz + |band_hz_| <= fs/2 (bounds included).
// Sums and trigonometry run in double; outputs are rounded to T.
#pragma once
#include <cstdint>

#include "kernels/conv/conv.h"

namespace spk {

enum class SincKind : uint8_t { sincnet, asteroid };

struct SincParams {
  SincKind kind = SincKind::sincnet;
  int64_t C = 1;          // cut-off rows
  int64_t K = 251;        // taps, odd
  double sample_rate = 16000, min_low_hz = 50, min_band_hz = 50;
  int64_t filters() const { return kind == SincKind::asteroid ? 2 * C : C; }   // output rows
};

// The half window w[0 .. K/2) of the convention (double; both kernels and the tests use it).
double sinc_window(const SincParams& p, int64_t j);

// filters (p.filters(), K) from low_hz, band_hz (C each).
template <class T> void sinc_filters_forward_cpu(const SincParams& p, const T* low_hz, const T* band_hz, T* filters);
// dlow_hz, dband_hz (C each, written =) from dfilters (p.filters(), K); either may be null.
template <class T> void sinc_filters_backward_cpu(const SincParams& p, const T* low_hz, const T* band_hz,
                                                  const T* dfilters, T* dlow_hz, T* dband_hz);
// y (N, p.filters(), L_out) = conv1d(x (N, 1, L), filters) with g = conv1d_geom(N, 1, L, p.filters(), K, stride,
// padding, 1, 1): the filters into `filters` (p.filters()·K scratch), then the conv kernel (kernels/conv).
template <class T> void sinc_conv1d_forward_cpu(const SincParams& p, const ConvGeom& g, const T* x, const T* low_hz,
                                                const T* band_hz, T* filters, T* y, const ConvCpuOptions& opt);

// CUDA (f32, kernels/sinc/sinc_cuda.cu). sinc_conv1d_forward_cuda is fused: each block builds the filters it
// needs in shared memory from the cut-offs and convolves its waveform tile with them; no filter tensor exists.
void sinc_filters_forward_cuda(const SincParams& p, const float* low_hz, const float* band_hz, float* filters,
                               void* stream);
void sinc_filters_backward_cuda(const SincParams& p, const float* low_hz, const float* band_hz,
                                const float* dfilters, float* dlow_hz, float* dband_hz, void* stream);
void sinc_conv1d_forward_cuda(const SincParams& p, const ConvGeom& g, const float* x, const float* low_hz,
                              const float* band_hz, float* y, void* stream);

}  // namespace spk
