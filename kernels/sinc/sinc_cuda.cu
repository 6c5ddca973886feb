// CUDA SincNet filters, their backward, and the fused sinc conv (kernels/sinc/sinc.h). f32 data; the cut-offs,
// the window and the trigonometry in double, as sinc_cpu.cpp, so each filter tap matches the CPU's f32 value.
//
// sinc_conv1d_forward_cuda: grid (output tiles of kTile positions, groups of kRows filters, N). A block builds its
// kRows filters (kRows·K taps) in shared memory from the cut-offs, loads the waveform span its tile reads (zero
// outside [0, L): the padding), and each thread accumulates one output position for the kRows filters. The filter
// tensor never reaches global memory: the conv reads the K·kRows taps from shared memory for all kTile outputs.
// (A stride so large that the span would not fit in 160 KiB reads the waveform from global memory instead.)
// Deterministic (each output is one thread's ordered sum).
#include <cmath>
#include <cstdint>

#include "kernels/common/check.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/sinc/sinc.h"

namespace spk {

namespace {

using namespace cuda_launch;
constexpr int kTile = 256;   // output positions per block (one per thread)
constexpr int kRows = 8;     // filters per block

__device__ double window_at(const SincParams& p, int64_t j) {
  const double K = double(p.K);
  const int64_t half = p.K / 2;
  if (p.kind == SincKind::asteroid) return 0.54 - 0.46 * cos(2 * M_PI * double(j) / (K - 1));
  const double n = half > 1 ? double(j) * (K / 2 - 1) / double(half - 1) : 0.0;
  return 0.54 - 0.46 * cos(2 * M_PI * n / K);
}

struct Cut {
  double a, b, sa, sb;
  bool pass;
};

__device__ Cut cut_of(const SincParams& p, const float* low, const float* band, int64_t c) {
  Cut k;
  const double l = double(low[c]), bw = double(band[c]);
  k.a = p.min_low_hz + fabs(l);
  const double hi = k.a + p.min_band_hz + fabs(bw);
  k.pass = hi >= p.min_low_hz && hi <= p.sample_rate / 2;
  k.b = fmin(fmax(hi, p.min_low_hz), p.sample_rate / 2);
  k.sa = l > 0 ? 1.0 : (l < 0 ? -1.0 : 0.0);
  k.sb = bw > 0 ? 1.0 : (bw < 0 ? -1.0 : 0.0);
  return k;
}

// Tap j of filter row f (f < p.filters()), as sinc_cpu.cpp writes it.
__device__ float tap(const SincParams& p, const float* low, const float* band, int64_t f, int64_t j) {
  const int64_t H = p.K / 2;
  const bool sin_row = f >= p.C;
  const Cut k = cut_of(p, low, band, sin_row ? f - p.C : f);
  if (j == H) return sin_row ? 0.0f : 1.0f;
  const int64_t jl = j < H ? j : p.K - 1 - j;
  const double t = 2 * M_PI * double(jl - H) / p.sample_rate;
  const double w = window_at(p, jl), band_w = k.b - k.a;
  const double h = sin_row ? (cos(k.a * t) - cos(k.b * t)) / (t / 2) * w / (2 * band_w)
                           : (sin(k.b * t) - sin(k.a * t)) / (t / 2) * w / (2 * band_w);
  return float(sin_row && j > H ? -h : h);
}

__global__ void filters_kernel(SincParams p, int64_t n, const float* low, const float* band, float* filters) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    filters[i] = tap(p, low, band, i / p.K, i % p.K);
}

// One block per cut-off row c: Σ over the taps of both rows in double, fixed-order tree, as sinc_cpu.cpp's formula.
__global__ void filters_backward_kernel(SincParams p, const float* low, const float* band, const float* df,
                                        float* dlow, float* dband) {
  __shared__ double sA[kThreads], sB[kThreads];
  const int64_t c = blockIdx.x, K = p.K, H = K / 2;
  const Cut k = cut_of(p, low, band, c);
  const double bw = k.b - k.a;
  double dA = 0, dB = 0;
  const int rows = p.kind == SincKind::asteroid ? 2 : 1;
  for (int r = 0; r < rows; ++r) {
    const float* g = df + (r * p.C + c) * K;
    for (int64_t j = threadIdx.x; j < H; j += blockDim.x) {
      const double t = 2 * M_PI * double(j - H) / p.sample_rate, w = window_at(p, j);
      const double gj = double(g[j]) + (r == 0 ? 1.0 : -1.0) * double(g[K - 1 - j]);
      const double Sa = r == 0 ? sin(k.a * t) : -cos(k.a * t), Sb = r == 0 ? sin(k.b * t) : -cos(k.b * t);
      const double dSa = r == 0 ? t * cos(k.a * t) : t * sin(k.a * t);
      const double dSb = r == 0 ? t * cos(k.b * t) : t * sin(k.b * t);
      const double q = (Sb - Sa) / (t * bw * bw);
      dA += gj * w * (-dSa / (t * bw) + q);
      dB += gj * w * (dSb / (t * bw) - q);
    }
  }
  sA[threadIdx.x] = dA;
  sB[threadIdx.x] = dB;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (int(threadIdx.x) < s) {
      sA[threadIdx.x] += sA[threadIdx.x + s];
      sB[threadIdx.x] += sB[threadIdx.x + s];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const double pB = k.pass ? sB[0] : 0.0;
    if (dlow) dlow[c] = float(k.sa * (sA[0] + pB));
    if (dband) dband[c] = float(k.sb * pB);
  }
}

// Fused filters + conv1d (x (N, 1, L) -> y (N, F, W_out)). Dynamic shared memory: kRows·K filter taps, then the
// input span (kTile − 1)·stride + K.
__global__ void sinc_conv_kernel(SincParams p, ConvGeom g, int64_t F, int64_t W_out, bool staged, const float* x,
                                 const float* low, const float* band, float* y) {
  extern __shared__ float smem[];
  const int64_t K = p.K, L = g.W, stride = g.stride_w;
  float* filt = smem;
  float* xs = smem + kRows * K;
  const int64_t f0 = int64_t(blockIdx.y) * kRows, o0 = int64_t(blockIdx.x) * kTile, n = blockIdx.z;
  const int rows = int(F - f0 < kRows ? F - f0 : kRows);
  for (int64_t i = threadIdx.x; i < kRows * K; i += blockDim.x)
    filt[i] = i / K < rows ? tap(p, low, band, f0 + i / K, i % K) : 0.0f;
  const int64_t span = (kTile - 1) * stride + K, start = o0 * stride - g.pad_w;
  const float* xn = x + n * L;
  if (staged)
    for (int64_t i = threadIdx.x; i < span; i += blockDim.x) {
      const int64_t s = start + i;
      xs[i] = s >= 0 && s < L ? xn[s] : 0.0f;
    }
  __syncthreads();
  const int64_t o = o0 + threadIdx.x;
  if (o >= W_out) return;
  float acc[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) acc[r] = 0.0f;
  const float* xo = xs + int64_t(threadIdx.x) * stride;
  const int64_t s0 = o * stride - g.pad_w;   // unstaged: read the waveform from global memory
  for (int64_t k = 0; k < K; ++k) {
    const float v = staged ? xo[k] : (s0 + k >= 0 && s0 + k < L ? xn[s0 + k] : 0.0f);
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[r] = fmaf(filt[r * K + k], v, acc[r]);
  }
  for (int r = 0; r < rows; ++r) y[(n * F + f0 + r) * W_out + o] = acc[r];
}

}  // namespace

void sinc_filters_forward_cuda(const SincParams& p, const float* low_hz, const float* band_hz, float* filters,
                               void* stream) {
  const int64_t n = p.filters() * p.K;
  filters_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(p, n, low_hz, band_hz, filters);
  SPK_KERNEL_LAUNCH_CHECK();
}

void sinc_filters_backward_cuda(const SincParams& p, const float* low_hz, const float* band_hz,
                                const float* dfilters, float* dlow_hz, float* dband_hz, void* stream) {
  filters_backward_kernel<<<unsigned(p.C), kThreads, 0, cudaStream_t(stream)>>>(p, low_hz, band_hz, dfilters,
                                                                                   dlow_hz, dband_hz);
  SPK_KERNEL_LAUNCH_CHECK();
}

void sinc_conv1d_forward_cuda(const SincParams& p, const ConvGeom& g, const float* x, const float* low_hz,
                              const float* band_hz, float* y, void* stream) {
  const int64_t W_out = g.W_out(), F = p.filters();
  if (g.N == 0 || W_out <= 0) return;
  static_assert(kTile == kThreads, "one output position per thread");
  // The waveform span a tile reads is staged in shared memory unless a large stride makes it too big (then each
  // thread reads its taps from global memory; the filters stay in shared memory).
  const size_t filt_bytes = sizeof(float) * size_t(kRows * p.K);
  const size_t span_bytes = sizeof(float) * size_t((kTile - 1) * g.stride_w + p.K);
  SPK_CHECK(filt_bytes <= 160 * 1024, "sinc_conv1d (CUDA): kernel_size ", p.K, " needs ", filt_bytes,
            " bytes of shared memory for ", kRows, " filters; at most 160 KiB (kernel_size <= 5120)");
  const bool staged = filt_bytes + span_bytes <= 160 * 1024;
  const size_t smem = filt_bytes + (staged ? span_bytes : 0);
  if (smem > 48 * 1024)
    SPK_CUDA_CHECK(cudaFuncSetAttribute(sinc_conv_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  const dim3 grid(unsigned((W_out + kTile - 1) / kTile), unsigned((F + kRows - 1) / kRows), unsigned(g.N));
  sinc_conv_kernel<<<grid, kThreads, smem, cudaStream_t(stream)>>>(p, g, F, W_out, staged, x, low_hz, band_hz, y);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
