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
#include <cmath>
#include <cstdint>

#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/pool/pool.h"

namespace spk {

namespace {

using namespace cuda_launch;

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// Outputs o along one axis whose window [o·s − p, o·s − p + K) contains input position h: [lo, hi].
// hi < lo when none (only possible where padding/stride leave a gap).
__device__ __forceinline__ void covering(int64_t h, int64_t K, int64_t s, int64_t p, int64_t n_out, int64_t& lo,
                                         int64_t& hi) {
  const int64_t a = h + p - K + 1;   // smallest o·s allowed
  lo = a <= 0 ? 0 : (a + s - 1) / s;
  hi = min64((h + p) / s, n_out - 1);   // h + p >= 0
}

__device__ __forceinline__ int64_t bin_start(int64_t i, int64_t n, int64_t out) { return (i * n) / out; }
__device__ __forceinline__ int64_t bin_end(int64_t i, int64_t n, int64_t out) { return ((i + 1) * n + out - 1) / out; }

// ---------------------------------------------------------------------------------------------- max

__global__ void max_pool2d_forward_kernel(PoolGeom g, int64_t Ho, int64_t Wo, const float* __restrict__ x,
                                          float* __restrict__ y, int64_t* __restrict__ idx, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t ow = j % Wo, t = j / Wo, oh = t % Ho, pl = t / Ho;
    const float* xp = x + pl * g.H * g.W;
    const int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
    const int64_t ha = max64(h0, 0), hb = min64(h0 + g.KH, g.H), wa = max64(w0, 0), wb = min64(w0 + g.KW, g.W);
    float cur = -INFINITY;
    int64_t best = ha * g.W + wa;   // the CPU's index when every tap is -inf: the window's first pixel
    for (int64_t h = ha; h < hb; ++h)
      for (int64_t w = wa; w < wb; ++w) {
        const float v = xp[h * g.W + w];
        if (v > cur || v != v) {
          cur = v;
          best = h * g.W + w;
        }
      }
    y[j] = cur;
    idx[j] = best;
  }
}

__global__ void max_pool2d_backward_kernel(PoolGeom g, int64_t Ho, int64_t Wo, const float* __restrict__ dy,
                                           const int64_t* __restrict__ idx, float* __restrict__ dx, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t w = j % g.W, t = j / g.W, h = t % g.H, pl = t / g.H;
    const int64_t self = h * g.W + w;
    int64_t oh0, oh1, ow0, ow1;
    covering(h, g.KH, g.stride_h, g.pad_h, Ho, oh0, oh1);
    covering(w, g.KW, g.stride_w, g.pad_w, Wo, ow0, ow1);
    const int64_t* ip = idx + pl * Ho * Wo;
    const float* gp = dy + pl * Ho * Wo;
    float acc = 0.0f;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const int64_t o = oh * Wo + ow;
        if (ip[o] == self) acc += gp[o];
      }
    dx[j] = acc;
  }
}

// ---------------------------------------------------------------------------------------------- avg

__global__ void avg_pool2d_forward_kernel(PoolGeom g, int64_t Ho, int64_t Wo, const float* __restrict__ x,
                                          float* __restrict__ y, int64_t n) {
  const double inv = 1.0 / double(g.KH * g.KW);
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t ow = j % Wo, t = j / Wo, oh = t % Ho, pl = t / Ho;
    const float* xp = x + pl * g.H * g.W;
    const int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
    const int64_t ha = max64(h0, 0), hb = min64(h0 + g.KH, g.H), wa = max64(w0, 0), wb = min64(w0 + g.KW, g.W);
    double s = 0;
    for (int64_t h = ha; h < hb; ++h)
      for (int64_t w = wa; w < wb; ++w) s += double(xp[h * g.W + w]);
    y[j] = float(s * inv);
  }
}

__global__ void avg_pool2d_backward_kernel(PoolGeom g, int64_t Ho, int64_t Wo, const float* __restrict__ dy,
                                           float* __restrict__ dx, int64_t n) {
  const float inv = float(1.0 / double(g.KH * g.KW));
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t w = j % g.W, t = j / g.W, h = t % g.H, pl = t / g.H;
    int64_t oh0, oh1, ow0, ow1;
    covering(h, g.KH, g.stride_h, g.pad_h, Ho, oh0, oh1);
    covering(w, g.KW, g.stride_w, g.pad_w, Wo, ow0, ow1);
    const float* gp = dy + pl * Ho * Wo;
    float acc = 0.0f;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) acc += __fmul_rn(gp[oh * Wo + ow], inv);
    dx[j] = acc;
  }
}

// ---------------------------------------------------------------------------------------------- adaptive

__global__ void adaptive_avg_pool2d_forward_kernel(int64_t H, int64_t W, int64_t OH, int64_t OW,
                                                   const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t oj = j % OW, t = j / OW, oi = t % OH, pl = t / OH;
    const float* xp = x + pl * H * W;
    const int64_t h0 = bin_start(oi, H, OH), h1 = bin_end(oi, H, OH);
    const int64_t w0 = bin_start(oj, W, OW), w1 = bin_end(oj, W, OW);
    double s = 0;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) s += double(xp[h * W + w]);
    y[j] = float(s / double((h1 - h0) * (w1 - w0)));
  }
}

// First bin containing position h: bins are monotone in both ends, and bin_end(i) > h iff i >= h·out/n.
__device__ __forceinline__ int64_t first_bin(int64_t h, int64_t n, int64_t out) { return (h * out) / n; }

__global__ void adaptive_avg_pool2d_backward_kernel(int64_t H, int64_t W, int64_t OH, int64_t OW,
                                                    const float* __restrict__ dy, float* __restrict__ dx, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t w = j % W, t = j / W, h = t % H, pl = t / H;
    const float* gp = dy + pl * OH * OW;
    float acc = 0.0f;
    // Rows i of bins containing h: from first_bin while bin_start(i) <= h (bin_end(i) > h holds throughout).
    for (int64_t i = first_bin(h, H, OH); i < OH && bin_start(i, H, OH) <= h; ++i) {
      if (bin_end(i, H, OH) <= h) continue;   // defensive: cannot happen by the monotonicity above
      const int64_t bh = bin_end(i, H, OH) - bin_start(i, H, OH);
      for (int64_t jj = first_bin(w, W, OW); jj < OW && bin_start(jj, W, OW) <= w; ++jj) {
        if (bin_end(jj, W, OW) <= w) continue;
        const int64_t bw = bin_end(jj, W, OW) - bin_start(jj, W, OW);
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
  max_pool2d_forward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(g, g.H_out(), g.W_out(), x, y, idx,
                                                                                  n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void max_pool2d_backward_cuda(const PoolGeom& g, const float* dy, const int64_t* idx, float* dx, void* stream) {
  const int64_t n = g.N * g.C * g.H * g.W;
  if (n == 0) return;
  max_pool2d_backward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(g, g.H_out(), g.W_out(), dy, idx,
                                                                                   dx, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void avg_pool2d_forward_cuda(const PoolGeom& g, const float* x, float* y, void* stream) {
  const int64_t n = g.N * g.C * g.H_out() * g.W_out();
  if (n == 0) return;
  avg_pool2d_forward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(g, g.H_out(), g.W_out(), x, y, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void avg_pool2d_backward_cuda(const PoolGeom& g, const float* dy, float* dx, void* stream) {
  const int64_t n = g.N * g.C * g.H * g.W;
  if (n == 0) return;
  avg_pool2d_backward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(g, g.H_out(), g.W_out(), dy, dx, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void adaptive_avg_pool2d_forward_cuda(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                      const float* x, float* y, void* stream) {
  const int64_t n = N * C * OH * OW;
  if (n == 0) return;
  adaptive_avg_pool2d_forward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(H, W, OH, OW, x, y, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void adaptive_avg_pool2d_backward_cuda(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                       const float* dy, float* dx, void* stream) {
  const int64_t n = N * C * H * W;
  if (n == 0) return;
  adaptive_avg_pool2d_backward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(H, W, OH, OW, dy, dx, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
