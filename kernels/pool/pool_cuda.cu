// CUDA pooling (kernels/pool/pool.h), f32, the same arithmetic in the same order as pool_cpu.cpp, so every
// kernel here reproduces the CPU reference bit for bit (argmax indices included):
//   forward   one thread per output element (grid-stride), walking its window in the CPU's row-major tap
//             order: max keeps the CPU's select rule (take if v > cur or v is NaN, so ties keep the first
//             maximum and the last NaN wins), avg/adaptive sum in double and scale as the CPU does.
//   backward  one thread per INPUT element, gathering from the outputs whose windows cover it, visited in
//             the row-major output order in which the CPU scatters into that element. No atomics: the
//             result is deterministic and equal to the CPU's float accumulation, and dx is written once
//             (=), so no memset is needed.
// The products dy·(1/K) are rounded before they are added (__fmul_rn), as the CPU does; without it nvcc
// would contract them into an FMA and the sums would drift from the reference by an ulp.
// Index arithmetic (a few divisions per element) runs in 32 bits whenever every index and product fits
// (tensors under 2^30 elements), since 64-bit division is a long emulated sequence on the GPU and would
// make these memory-bound kernels compute-bound.
#include <cmath>
#include <cstdint>

#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/pool/pool.h"

namespace spk {

namespace {

using namespace cuda_launch;

// Pool geometry in the kernels' index type I (int32_t or int64_t).
template <class I>
struct Geom {
  I H, W, Ho, Wo, KH, KW, sh, sw, ph, pw;
};

template <class I>
Geom<I> geom(const PoolGeom& g) {
  return {I(g.H), I(g.W), I(g.H_out()), I(g.W_out()), I(g.KH), I(g.KW),
          I(g.stride_h), I(g.stride_w), I(g.pad_h), I(g.pad_w)};
}

// 32-bit indexing when every element index of x and y, every grid-stride step past them, and the adaptive
// bins' products i·H, i·W stay below 2^31 (the grid stride adds at most 8192·256 = 2^21).
bool fits_32(int64_t x_numel, int64_t y_numel, int64_t prod_h = 0, int64_t prod_w = 0) {
  constexpr int64_t kLimit = int64_t(1) << 30;
  return x_numel < kLimit && y_numel < kLimit && prod_h < kLimit && prod_w < kLimit;
}

template <class I> __device__ __forceinline__ I imin(I a, I b) { return a < b ? a : b; }
template <class I> __device__ __forceinline__ I imax(I a, I b) { return a > b ? a : b; }

// Outputs o along one axis whose window [o·s − p, o·s − p + K) contains input position h: [lo, hi].
// hi < lo when none (only possible where padding/stride leave a gap).
template <class I>
__device__ __forceinline__ void covering(I h, I K, I s, I p, I n_out, I& lo, I& hi) {
  const I a = h + p - K + 1;   // smallest o·s allowed
  lo = a <= 0 ? I(0) : (a + s - 1) / s;
  hi = imin<I>((h + p) / s, n_out - 1);   // h + p >= 0
}

template <class I> __device__ __forceinline__ I bin_start(I i, I n, I out) { return (i * n) / out; }
template <class I> __device__ __forceinline__ I bin_end(I i, I n, I out) { return ((i + 1) * n + out - 1) / out; }
// First bin containing position h: bins are monotone in both ends, and bin_end(i) > h iff i >= h·out/n.
template <class I> __device__ __forceinline__ I first_bin(I h, I n, I out) { return (h * out) / n; }

// ---------------------------------------------------------------------------------------------- max

template <class I>
__global__ void max_pool2d_forward_kernel(Geom<I> g, const float* __restrict__ x, float* __restrict__ y,
                                          int64_t* __restrict__ idx, I n) {
  const I step = I(gridDim.x) * I(blockDim.x);
  for (I j = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); j < n; j += step) {
    const I ow = j % g.Wo, t = j / g.Wo, oh = t % g.Ho, pl = t / g.Ho;
    const float* xp = x + pl * g.H * g.W;
    const I h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
    const I ha = imax<I>(h0, 0), hb = imin<I>(h0 + g.KH, g.H), wa = imax<I>(w0, 0), wb = imin<I>(w0 + g.KW, g.W);
    float cur = -INFINITY;
    I best = ha * g.W + wa;   // the CPU's index when every tap is -inf: the window's first pixel
    for (I h = ha; h < hb; ++h)
      for (I w = wa; w < wb; ++w) {
        const float v = xp[h * g.W + w];
        if (v > cur || v != v) {   // as the CPU: ties keep the first maximum; a NaN wins
          cur = v;
          best = h * g.W + w;
        }
      }
    y[j] = cur;
    idx[j] = int64_t(best);
  }
}

template <class I>
__global__ void max_pool2d_backward_kernel(Geom<I> g, const float* __restrict__ dy, const int64_t* __restrict__ idx,
                                           float* __restrict__ dx, I n) {
  const I step = I(gridDim.x) * I(blockDim.x);
  for (I j = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); j < n; j += step) {
    const I w = j % g.W, t = j / g.W, h = t % g.H, pl = t / g.H;
    const int64_t self = int64_t(h * g.W + w);
    I oh0, oh1, ow0, ow1;
    covering<I>(h, g.KH, g.sh, g.ph, g.Ho, oh0, oh1);
    covering<I>(w, g.KW, g.sw, g.pw, g.Wo, ow0, ow1);
    const int64_t* ip = idx + pl * g.Ho * g.Wo;
    const float* gp = dy + pl * g.Ho * g.Wo;
    float acc = 0.0f;
    for (I oh = oh0; oh <= oh1; ++oh)
      for (I ow = ow0; ow <= ow1; ++ow) {
        const I o = oh * g.Wo + ow;
        if (ip[o] == self) acc += gp[o];
      }
    dx[j] = acc;
  }
}

// ---------------------------------------------------------------------------------------------- avg

template <class I>
__global__ void avg_pool2d_forward_kernel(Geom<I> g, const float* __restrict__ x, float* __restrict__ y, I n) {
  const double inv = 1.0 / double(g.KH * g.KW);
  const I step = I(gridDim.x) * I(blockDim.x);
  for (I j = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); j < n; j += step) {
    const I ow = j % g.Wo, t = j / g.Wo, oh = t % g.Ho, pl = t / g.Ho;
    const float* xp = x + pl * g.H * g.W;
    const I h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
    const I ha = imax<I>(h0, 0), hb = imin<I>(h0 + g.KH, g.H), wa = imax<I>(w0, 0), wb = imin<I>(w0 + g.KW, g.W);
    double s = 0;
    for (I h = ha; h < hb; ++h)
      for (I w = wa; w < wb; ++w) s += double(xp[h * g.W + w]);
    y[j] = float(s * inv);
  }
}

template <class I>
__global__ void avg_pool2d_backward_kernel(Geom<I> g, const float* __restrict__ dy, float* __restrict__ dx, I n) {
  const float inv = float(1.0 / double(g.KH * g.KW));
  const I step = I(gridDim.x) * I(blockDim.x);
  for (I j = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); j < n; j += step) {
    const I w = j % g.W, t = j / g.W, h = t % g.H, pl = t / g.H;
    I oh0, oh1, ow0, ow1;
    covering<I>(h, g.KH, g.sh, g.ph, g.Ho, oh0, oh1);
    covering<I>(w, g.KW, g.sw, g.pw, g.Wo, ow0, ow1);
    const float* gp = dy + pl * g.Ho * g.Wo;
    float acc = 0.0f;
    for (I oh = oh0; oh <= oh1; ++oh)
      for (I ow = ow0; ow <= ow1; ++ow) acc += __fmul_rn(gp[oh * g.Wo + ow], inv);
    dx[j] = acc;
  }
}

// ---------------------------------------------------------------------------------------------- adaptive

template <class I>
__global__ void adaptive_avg_pool2d_forward_kernel(I H, I W, I OH, I OW, const float* __restrict__ x,
                                                   float* __restrict__ y, I n) {
  const I step = I(gridDim.x) * I(blockDim.x);
  for (I j = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); j < n; j += step) {
    const I oj = j % OW, t = j / OW, oi = t % OH, pl = t / OH;
    const float* xp = x + pl * H * W;
    const I h0 = bin_start<I>(oi, H, OH), h1 = bin_end<I>(oi, H, OH);
    const I w0 = bin_start<I>(oj, W, OW), w1 = bin_end<I>(oj, W, OW);
    double s = 0;
    for (I h = h0; h < h1; ++h)
      for (I w = w0; w < w1; ++w) s += double(xp[h * W + w]);
    y[j] = float(s / double((h1 - h0) * (w1 - w0)));
  }
}

template <class I>
__global__ void adaptive_avg_pool2d_backward_kernel(I H, I W, I OH, I OW, const float* __restrict__ dy,
                                                    float* __restrict__ dx, I n) {
  const I step = I(gridDim.x) * I(blockDim.x);
  for (I j = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); j < n; j += step) {
    const I w = j % W, t = j / W, h = t % H, pl = t / H;
    const float* gp = dy + pl * OH * OW;
    float acc = 0.0f;
    // Rows i of bins containing h: from first_bin while bin_start(i) <= h (bin_end(i) > h holds throughout).
    for (I i = first_bin<I>(h, H, OH); i < OH && bin_start<I>(i, H, OH) <= h; ++i) {
      if (bin_end<I>(i, H, OH) <= h) continue;   // defensive: cannot happen by the monotonicity above
      const I bh = bin_end<I>(i, H, OH) - bin_start<I>(i, H, OH);
      for (I jj = first_bin<I>(w, W, OW); jj < OW && bin_start<I>(jj, W, OW) <= w; ++jj) {
        if (bin_end<I>(jj, W, OW) <= w) continue;
        const I bw = bin_end<I>(jj, W, OW) - bin_start<I>(jj, W, OW);
        acc += float(double(gp[i * OW + jj]) / double(bh * bw));   // as the CPU: v = T(dy / count), d += v
      }
    }
    dx[j] = acc;
  }
}

}  // namespace

void max_pool2d_forward_cuda(const PoolGeom& g, const float* x, float* y, int64_t* idx, void* stream) {
  const int64_t n = g.N * g.C * g.H_out() * g.W_out();
  if (n == 0) return;
  const cudaStream_t s = cudaStream_t(stream);
  if (fits_32(g.N * g.C * g.H * g.W, n))
    max_pool2d_forward_kernel<int32_t><<<blocks_for(n), kThreads, 0, s>>>(geom<int32_t>(g), x, y, idx, int32_t(n));
  else
    max_pool2d_forward_kernel<int64_t><<<blocks_for(n), kThreads, 0, s>>>(geom<int64_t>(g), x, y, idx, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void max_pool2d_backward_cuda(const PoolGeom& g, const float* dy, const int64_t* idx, float* dx, void* stream) {
  const int64_t n = g.N * g.C * g.H * g.W;
  if (n == 0) return;
  const cudaStream_t s = cudaStream_t(stream);
  if (fits_32(n, g.N * g.C * g.H_out() * g.W_out()))
    max_pool2d_backward_kernel<int32_t><<<blocks_for(n), kThreads, 0, s>>>(geom<int32_t>(g), dy, idx, dx, int32_t(n));
  else
    max_pool2d_backward_kernel<int64_t><<<blocks_for(n), kThreads, 0, s>>>(geom<int64_t>(g), dy, idx, dx, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void avg_pool2d_forward_cuda(const PoolGeom& g, const float* x, float* y, void* stream) {
  const int64_t n = g.N * g.C * g.H_out() * g.W_out();
  if (n == 0) return;
  const cudaStream_t s = cudaStream_t(stream);
  if (fits_32(g.N * g.C * g.H * g.W, n))
    avg_pool2d_forward_kernel<int32_t><<<blocks_for(n), kThreads, 0, s>>>(geom<int32_t>(g), x, y, int32_t(n));
  else
    avg_pool2d_forward_kernel<int64_t><<<blocks_for(n), kThreads, 0, s>>>(geom<int64_t>(g), x, y, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void avg_pool2d_backward_cuda(const PoolGeom& g, const float* dy, float* dx, void* stream) {
  const int64_t n = g.N * g.C * g.H * g.W;
  if (n == 0) return;
  const cudaStream_t s = cudaStream_t(stream);
  if (fits_32(n, g.N * g.C * g.H_out() * g.W_out()))
    avg_pool2d_backward_kernel<int32_t><<<blocks_for(n), kThreads, 0, s>>>(geom<int32_t>(g), dy, dx, int32_t(n));
  else
    avg_pool2d_backward_kernel<int64_t><<<blocks_for(n), kThreads, 0, s>>>(geom<int64_t>(g), dy, dx, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void adaptive_avg_pool2d_forward_cuda(const float* x, float* y, int64_t N, int64_t C, int64_t H, int64_t W,
                                      int64_t OH, int64_t OW, void* stream) {
  const int64_t n = N * C * OH * OW;
  if (n == 0) return;
  const cudaStream_t s = cudaStream_t(stream);
  if (fits_32(N * C * H * W, n, (OH + 1) * (H + 1), (OW + 1) * (W + 1)))
    adaptive_avg_pool2d_forward_kernel<int32_t><<<blocks_for(n), kThreads, 0, s>>>(
        int32_t(H), int32_t(W), int32_t(OH), int32_t(OW), x, y, int32_t(n));
  else
    adaptive_avg_pool2d_forward_kernel<int64_t><<<blocks_for(n), kThreads, 0, s>>>(H, W, OH, OW, x, y, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void adaptive_avg_pool2d_backward_cuda(const float* dy, float* dx, int64_t N, int64_t C, int64_t H, int64_t W,
                                       int64_t OH, int64_t OW, void* stream) {
  const int64_t n = N * C * H * W;
  if (n == 0) return;
  const cudaStream_t s = cudaStream_t(stream);
  if (fits_32(n, N * C * OH * OW, (OH + 1) * (H + 1), (OW + 1) * (W + 1)))
    adaptive_avg_pool2d_backward_kernel<int32_t><<<blocks_for(n), kThreads, 0, s>>>(
        int32_t(H), int32_t(W), int32_t(OH), int32_t(OW), dy, dx, int32_t(n));
  else
    adaptive_avg_pool2d_backward_kernel<int64_t><<<blocks_for(n), kThreads, 0, s>>>(H, W, OH, OW, dy, dx, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
