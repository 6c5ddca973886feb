// CUDA kernels of the fused attentive pooling (kernels/attnpool/attnpool.h), f32 with float sums in a fixed tree
// order (warp shuffles, then one value per warp): deterministic, within f32 rounding of the CPU loops. The
// per-channel scalar formulas are attnpool_math.h's, as on the CPU.
//
//   sap_pool forward:    one block per sequence: a warp per frame computes tanh and s_t (written into w), the
//                        block takes the softmax over frames in place, then a thread per channel sums mu, m2.
//   sap_pool backward:   one block per sequence with dmu', dm2 (2D floats) in shared memory: a warp per frame sums
//                        g_t and writes dx, the block projects ds, then a thread per (t, h) writes dh_pre; a second
//                        kernel sums da over (b, t) in ascending order, one thread per h.
//   attentive_stats:     a warp per softmax row (B·Cw rows) writes w, then a warp per (b, c) row the statistics.
//                        Backward with Cw = C: a warp per row; with Cw = 1: a thread per (b, t) walks the channels
//                        in ascending c (dx and g_t), then a block per sequence the softmax's backward.
// Not run on a GPU yet (written on a machine without one; compiles with nvcc for sm_90).
#include <cmath>
#include <cstdint>

#include "kernels/attnpool/attnpool.h"
#include "kernels/attnpool/attnpool_math.h"
#include "kernels/common/check.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"

namespace spk {

namespace {

using namespace cuda_launch;
using attnpool::stat_grads;
using attnpool::stat_std;

constexpr int kWarp = 32;

__device__ __forceinline__ float warp_sum(float s) {
  for (int o = kWarp / 2; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
  return s;
}

__device__ __forceinline__ float warp_max(float s) {
  for (int o = kWarp / 2; o > 0; o /= 2) s = fmaxf(s, __shfl_xor_sync(0xffffffffu, s, o));
  return s;
}

// The sum (or max) of one value per thread over the block, returned to every thread. `red` holds 32 floats.
__device__ float block_reduce(float s, bool is_max, float* red) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = (blockDim.x + kWarp - 1) / kWarp;
  s = is_max ? warp_max(s) : warp_sum(s);
  __syncthreads();   // red may still be read by a previous call
  if (lane == 0) red[warp] = s;
  __syncthreads();
  float r = lane < warps ? red[lane] : (is_max ? -INFINITY : 0.f);
  return is_max ? warp_max(r) : warp_sum(r);
}

// softmax in place over the n values of row, by the whole block.
__device__ void block_softmax(float* row, int64_t n, float* red) {
  float m = -INFINITY;
  for (int64_t t = threadIdx.x; t < n; t += blockDim.x) m = fmaxf(m, row[t]);
  m = block_reduce(m, true, red);
  float s = 0;
  for (int64_t t = threadIdx.x; t < n; t += blockDim.x) {
    const float e = expf(row[t] - m);
    row[t] = e;
    s += e;
  }
  const float inv = 1.f / block_reduce(s, false, red);
  for (int64_t t = threadIdx.x; t < n; t += blockDim.x) row[t] *= inv;
  __syncthreads();
}

// softmax in place over the n values of row, by one warp.
__device__ void warp_softmax(float* row, int64_t n, int lane) {
  float m = -INFINITY;
  for (int64_t t = lane; t < n; t += kWarp) m = fmaxf(m, row[t]);
  m = warp_max(m);
  float s = 0;
  for (int64_t t = lane; t < n; t += kWarp) {
    const float e = expf(row[t] - m);
    row[t] = e;
    s += e;
  }
  const float inv = 1.f / warp_sum(s);
  for (int64_t t = lane; t < n; t += kWarp) row[t] *= inv;
}

__global__ void sap_forward_kernel(const float* __restrict__ h_pre, const float* __restrict__ a,
                                   const float* __restrict__ x, float* __restrict__ y, float* __restrict__ th,
                                   float* w, float* __restrict__ v, int64_t L, int64_t H, int64_t D, bool with_std,
                                   StatClamp clamp) {
  __shared__ float red[kWarp];
  const int64_t b = blockIdx.x;
  const int lane = threadIdx.x % kWarp, warps = blockDim.x / kWarp;
  float* wb = w + b * L;
  for (int64_t t = threadIdx.x / kWarp; t < L; t += warps) {
    const float* hp = h_pre + (b * L + t) * H;
    float* tt = th + (b * L + t) * H;
    float s = 0;
    for (int64_t h = lane; h < H; h += kWarp) {
      const float v_ = tanhf(hp[h]);
      tt[h] = v_;
      s += v_ * a[h];
    }
    s = warp_sum(s);
    if (lane == 0) wb[t] = s;
  }
  __syncthreads();
  block_softmax(wb, L, red);
  const int64_t Y = with_std ? 2 * D : D;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float mu = 0, m2 = 0;
    for (int64_t t = 0; t < L; ++t) {
      const float xv = x[(b * L + t) * D + d], wx = wb[t] * xv;
      mu += wx;
      m2 += wx * xv;
    }
    y[b * Y + d] = mu;
    if (with_std) {
      const float var = m2 - mu * mu;
      v[b * D + d] = var;
      y[b * Y + D + d] = stat_std(var, clamp);
    }
  }
}

__global__ void sap_backward_kernel(const float* __restrict__ th, const float* __restrict__ a,
                                    const float* __restrict__ x, const float* __restrict__ w,
                                    const float* __restrict__ y, const float* __restrict__ v,
                                    const float* __restrict__ dy, float* __restrict__ dh_pre, float* __restrict__ dx,
                                    float* ds, int64_t L, int64_t H, int64_t D, bool with_std, StatClamp clamp) {
  extern __shared__ float g[];   // dmu' (D), dm2 (D)
  __shared__ float red[kWarp];
  const int64_t b = blockIdx.x, Y = with_std ? 2 * D : D;
  const int lane = threadIdx.x % kWarp, warps = blockDim.x / kWarp;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    const float* yb = y + b * Y;
    const float* dyb = dy + b * Y;
    const auto gr = with_std ? stat_grads(yb[d], yb[D + d], v[b * D + d], dyb[d], dyb[D + d], true, clamp)
                             : stat_grads(yb[d], 0.f, 0.f, dyb[d], 0.f, false, clamp);
    g[d] = gr.dmu;
    g[D + d] = gr.dm2;
  }
  __syncthreads();
  const float* wb = w + b * L;
  float* dsb = ds + b * L;
  for (int64_t t = threadIdx.x / kWarp; t < L; t += warps) {
    const float* xt = x + (b * L + t) * D;
    float* dxt = dx + (b * L + t) * D;
    float s = 0;
    for (int64_t d = lane; d < D; d += kWarp) {
      const float xv = xt[d];
      s += xv * (g[d] + g[D + d] * xv);
      dxt[d] = wb[t] * (g[d] + 2.f * g[D + d] * xv);
    }
    s = warp_sum(s);
    if (lane == 0) dsb[t] = s;
  }
  __syncthreads();
  float p = 0;
  for (int64_t t = threadIdx.x; t < L; t += blockDim.x) p += wb[t] * dsb[t];
  const float proj = block_reduce(p, false, red);
  for (int64_t t = threadIdx.x; t < L; t += blockDim.x) dsb[t] = wb[t] * (dsb[t] - proj);
  __syncthreads();
  for (int64_t i = threadIdx.x; i < L * H; i += blockDim.x) {
    const int64_t t = i / H, h = i % H;
    const float tv = th[b * L * H + i];
    dh_pre[b * L * H + i] = dsb[t] * a[h] * (1.f - tv * tv);
  }
}

__global__ void sap_da_kernel(const float* __restrict__ th, const float* __restrict__ ds, float* __restrict__ da,
                              int64_t BL, int64_t H) {
  for (int64_t h = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; h < H; h += int64_t(gridDim.x) * blockDim.x) {
    float acc = 0;
    for (int64_t bt = 0; bt < BL; ++bt) acc += ds[bt] * th[bt * H + h];
    da[h] = acc;
  }
}

// A warp per softmax row of the R = B·Cw rows: w = softmax(logits).
__global__ void softmax_rows_kernel(const float* __restrict__ logits, float* __restrict__ w, int64_t R, int64_t L) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / kWarp);
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp; r < R; r += warps) {
    for (int64_t t = lane; t < L; t += kWarp) w[r * L + t] = logits[r * L + t];
    __syncwarp();
    warp_softmax(w + r * L, L, lane);
  }
}

// A warp per (b, c) row: mu, m2 -> y, v.
__global__ void stats_rows_kernel(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                                  float* __restrict__ v, int64_t B, int64_t C, int64_t Cw, int64_t L, bool with_std,
                                  StatClamp clamp) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / kWarp), Y = with_std ? 2 * C : C;
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp; r < B * C; r += warps) {
    const int64_t b = r / C, c = r % C;
    const float* wr = w + (b * Cw + (Cw == 1 ? 0 : c)) * L;
    const float* xr = x + r * L;
    float mu = 0, m2 = 0;
    for (int64_t t = lane; t < L; t += kWarp) {
      const float wx = wr[t] * xr[t];
      mu += wx;
      m2 += wx * xr[t];
    }
    mu = warp_sum(mu);
    m2 = warp_sum(m2);
    if (lane == 0) {
      y[b * Y + c] = mu;
      if (with_std) {
        const float var = m2 - mu * mu;
        v[r] = var;
        y[b * Y + C + c] = stat_std(var, clamp);
      }
    }
  }
}

__device__ __forceinline__ attnpool::StatGrads<float> row_grads(const float* y, const float* v, const float* dy,
                                                                int64_t b, int64_t c, int64_t C, bool with_std,
                                                                StatClamp clamp) {
  const int64_t Y = with_std ? 2 * C : C;
  const float* yb = y + b * Y;
  const float* dyb = dy + b * Y;
  return with_std ? stat_grads(yb[c], yb[C + c], v[b * C + c], dyb[c], dyb[C + c], true, clamp)
                  : stat_grads(yb[c], 0.f, 0.f, dyb[c], 0.f, false, clamp);
}

// Cw = C: a warp per (b, c) row writes dx and dlogits = w (g − Σ w g).
__global__ void stats_backward_rows_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                           const float* __restrict__ y, const float* __restrict__ v,
                                           const float* __restrict__ dy, float* dlogits, float* __restrict__ dx,
                                           int64_t B, int64_t C, int64_t L, bool with_std, StatClamp clamp) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / kWarp);
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp; r < B * C; r += warps) {
    const auto gr = row_grads(y, v, dy, r / C, r % C, C, with_std, clamp);
    const float* xr = x + r * L;
    const float* wr = w + r * L;
    float* gl = dlogits + r * L;
    float p = 0;
    for (int64_t t = lane; t < L; t += kWarp) {
      const float xv = xr[t], gt = xv * (gr.dmu + gr.dm2 * xv);
      gl[t] = gt;
      p += wr[t] * gt;
      dx[r * L + t] = wr[t] * (gr.dmu + 2.f * gr.dm2 * xv);
    }
    const float proj = warp_sum(p);
    for (int64_t t = lane; t < L; t += kWarp) gl[t] = wr[t] * (gl[t] - proj);   // each lane rereads its own t
  }
}

// Cw = 1: a thread per (b, t) walks the channels in ascending c: dx and g_t = Σ_c x (dmu' + dm2 x) into dlogits.
__global__ void stats_backward_frames_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                             const float* __restrict__ y, const float* __restrict__ v,
                                             const float* __restrict__ dy, float* __restrict__ g,
                                             float* __restrict__ dx, int64_t B, int64_t C, int64_t L, bool with_std,
                                             StatClamp clamp) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < B * L; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / L, t = i % L;
    const float wt = w[i];
    float s = 0;
    for (int64_t c = 0; c < C; ++c) {
      const auto gr = row_grads(y, v, dy, b, c, C, with_std, clamp);
      const int64_t k = (b * C + c) * L + t;
      const float xv = x[k];
      s += xv * (gr.dmu + gr.dm2 * xv);
      dx[k] = wt * (gr.dmu + 2.f * gr.dm2 * xv);
    }
    g[i] = s;
  }
}

// Cw = 1: a block per sequence turns g (in dlogits) into w (g − Σ w g).
__global__ void softmax_backward_block_kernel(const float* __restrict__ w, float* g, int64_t L) {
  __shared__ float red[kWarp];
  const int64_t b = blockIdx.x;
  float p = 0;
  for (int64_t t = threadIdx.x; t < L; t += blockDim.x) p += w[b * L + t] * g[b * L + t];
  const float proj = block_reduce(p, false, red);
  for (int64_t t = threadIdx.x; t < L; t += blockDim.x) g[b * L + t] = w[b * L + t] * (g[b * L + t] - proj);
}

unsigned warp_blocks(int64_t rows) { return blocks_for(rows * kWarp); }

}  // namespace

void sap_pool_forward_cuda(const float* h_pre, const float* a, const float* x, float* y, float* th, float* w, float* v,
                           int64_t B, int64_t L, int64_t H, int64_t D, bool with_std, StatClamp clamp, void* stream) {
  if (B == 0) return;
  sap_forward_kernel<<<unsigned(B), kThreads, 0, cudaStream_t(stream)>>>(h_pre, a, x, y, th, w, v, L, H, D, with_std,
                                                                         clamp);
  SPK_KERNEL_LAUNCH_CHECK();
}

void sap_pool_backward_cuda(const float* th, const float* a, const float* x, const float* w, const float* y,
                            const float* v, const float* dy, float* dh_pre, float* da, float* dx, float* ds,
                            int64_t B, int64_t L, int64_t H, int64_t D, bool with_std, StatClamp clamp,
                            void* stream) {
  SPK_CHECK(D <= kSapPoolCudaMaxDim, "sap_pool_backward_cuda: ", D, " channels above the kernel's limit ",
            kSapPoolCudaMaxDim);
  auto s = cudaStream_t(stream);
  if (B > 0) {
    sap_backward_kernel<<<unsigned(B), kThreads, size_t(2 * D) * sizeof(float), s>>>(th, a, x, w, y, v, dy, dh_pre,
                                                                                      dx, ds, L, H, D, with_std,
                                                                                      clamp);
    SPK_KERNEL_LAUNCH_CHECK();
  }
  sap_da_kernel<<<blocks_for(H), kThreads, 0, s>>>(th, ds, da, B * L, H);
  SPK_KERNEL_LAUNCH_CHECK();
}

void attentive_stats_forward_cuda(const float* logits, const float* x, float* y, float* w, float* v, int64_t B,
                                  int64_t C, int64_t Cw, int64_t L, bool with_std, StatClamp clamp, void* stream) {
  if (B == 0 || C == 0) return;
  auto s = cudaStream_t(stream);
  softmax_rows_kernel<<<warp_blocks(B * Cw), kThreads, 0, s>>>(logits, w, B * Cw, L);
  SPK_KERNEL_LAUNCH_CHECK();
  stats_rows_kernel<<<warp_blocks(B * C), kThreads, 0, s>>>(x, w, y, v, B, C, Cw, L, with_std, clamp);
  SPK_KERNEL_LAUNCH_CHECK();
}

void attentive_stats_backward_cuda(const float* x, const float* w, const float* y, const float* v, const float* dy,
                                   float* dlogits, float* dx, int64_t B, int64_t C, int64_t Cw, int64_t L,
                                   bool with_std, StatClamp clamp, void* stream) {
  if (B == 0 || C == 0) return;
  auto s = cudaStream_t(stream);
  if (Cw != 1) {
    stats_backward_rows_kernel<<<warp_blocks(B * C), kThreads, 0, s>>>(x, w, y, v, dy, dlogits, dx, B, C, L,
                                                                       with_std, clamp);
    SPK_KERNEL_LAUNCH_CHECK();
    return;
  }
  stats_backward_frames_kernel<<<blocks_for(B * L), kThreads, 0, s>>>(x, w, y, v, dy, dlogits, dx, B, C, L,
                                                                      with_std, clamp);
  SPK_KERNEL_LAUNCH_CHECK();
  softmax_backward_block_kernel<<<unsigned(B), kThreads, 0, s>>>(w, dlogits, L);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
