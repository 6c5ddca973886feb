// CUDA attention core (kernels/attention/attention.h), f32 data with every dot product and sum in double, as
// attention_cpu.cpp: dot products over the head dim and the weighted sums over positions run in the CPU's
// order in one thread each (bit-identical doubles); only the softmax's row max/sum and the backward's
// Σ dP·P are block trees, so results match the CPU to an f32 ulp or two. Products that feed an addition are
// __dmul_rn: nvcc would otherwise contract them into FMAs, which the CPU reference does not do.
//
//   forward:  one 256-thread block per (b, h, i) query row (grid-stride): scores of the row in shared memory
//             (Lk doubles), max and Σexp as block trees, P rounded to f32 (as the CPU stores it) and kept, then
//             out[i, c] = Σ_j P_ij·v[j, c], one thread per c.
//   backward: (1) one block per (b, h, i): dP_ij = Σ_c g[i, c]·v[j, c], Σ_j dP·P, dS_ij = P_ij·(dP_ij − Σ) to
//             the workspace (doubles, B·H·Lq·Lk), then dq[i, c] = s·Σ_j dS_ij·k[j, c];
//             (2) one block per (b, h, j): dk[j, c] = s·Σ_i dS_ij·q[i, c], dv[j, c] = Σ_i P_ij·g[i, c].
// Deterministic: no atomics; every sum's order depends on the shape only.
#include <cmath>
#include <cstdint>

#include "kernels/attention/attention.h"
#include "kernels/common/check.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"

namespace spk {

namespace {

using namespace cuda_launch;
constexpr int kWarps = kThreads / 32;
// Shared memory holds one row of Lk doubles: 48 KiB, the default limit, caps Lk.
constexpr int64_t kMaxKeys = 6 * 1024 - 16;

// Block reduction (blockDim.x == kThreads) returned to every thread, in a fixed order: shuffle tree per warp,
// then thread 0 combines the warp results in warp order. scratch holds kWarps + 1 doubles.
template <bool kMax>
__device__ double block_all(double v, double* scratch) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) {
    const double u = __shfl_down_sync(0xffffffffu, v, o);
    v = kMax ? fmax(v, u) : v + u;
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    double t = scratch[0];
    for (int w = 1; w < kWarps; ++w) t = kMax ? fmax(t, scratch[w]) : t + scratch[w];
    scratch[kWarps] = t;
  }
  __syncthreads();
  return scratch[kWarps];
}

// Σ_c a[c]·b[c] over the head dim in ascending c, as the CPU.
__device__ __forceinline__ double dot_rows(const float* __restrict__ a, const float* __restrict__ b, int64_t Dh) {
  double acc = 0;
  for (int64_t c = 0; c < Dh; ++c) acc += __dmul_rn(double(a[c]), double(b[c]));
  return acc;
}

__global__ void attn_forward_kernel(const float* __restrict__ q, const float* __restrict__ k,
                                    const float* __restrict__ v, float* __restrict__ out, float* __restrict__ probs,
                                    int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t Dh, double s) {
  extern __shared__ double row[];   // Lk
  __shared__ double scratch[kWarps + 1];
  const int64_t E = H * Dh, rows = B * H * Lq;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t bh = r / Lq, i = r % Lq, b = bh / H, h = bh % H;
    const float* qi = q + (b * Lq + i) * E + h * Dh;
    const float* kb = k + b * Lk * E + h * Dh;
    const float* vb = v + b * Lk * E + h * Dh;
    double mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < Lk; j += kThreads) {
      row[j] = __dmul_rn(dot_rows(qi, kb + j * E, Dh), s);
      mx = fmax(mx, row[j]);
    }
    mx = block_all<true>(mx, scratch);
    double sum = 0;
    for (int64_t j = threadIdx.x; j < Lk; j += kThreads) {
      row[j] = exp(row[j] - mx);
      sum += row[j];
    }
    sum = block_all<false>(sum, scratch);
    float* pr = probs + r * Lk;
    for (int64_t j = threadIdx.x; j < Lk; j += kThreads) {
      const float p = float(row[j] / sum);
      pr[j] = p;
      row[j] = double(p);
    }
    __syncthreads();
    float* oi = out + (b * Lq + i) * E + h * Dh;
    for (int64_t c = threadIdx.x; c < Dh; c += kThreads) {
      double acc = 0;
      for (int64_t j = 0; j < Lk; ++j) acc += __dmul_rn(row[j], double(vb[j * E + c]));
      oi[c] = float(acc);
    }
    __syncthreads();   // the next row overwrites `row`
  }
}

__global__ void attn_dscores_kernel(const float* __restrict__ k, const float* __restrict__ v,
                                    const float* __restrict__ probs, const float* __restrict__ dout,
                                    float* __restrict__ dq, double* __restrict__ ds, int64_t B, int64_t H, int64_t Lq,
                                    int64_t Lk, int64_t Dh, double s) {
  __shared__ double scratch[kWarps + 1];
  const int64_t E = H * Dh, rows = B * H * Lq;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t bh = r / Lq, i = r % Lq, b = bh / H, h = bh % H;
    const float* gi = dout + (b * Lq + i) * E + h * Dh;
    const float* kb = k + b * Lk * E + h * Dh;
    const float* vb = v + b * Lk * E + h * Dh;
    const float* pr = probs + r * Lk;
    double* dsr = ds + r * Lk;
    double pp = 0;
    for (int64_t j = threadIdx.x; j < Lk; j += kThreads) {
      dsr[j] = dot_rows(gi, vb + j * E, Dh);
      pp += __dmul_rn(dsr[j], double(pr[j]));
    }
    pp = block_all<false>(pp, scratch);
    for (int64_t j = threadIdx.x; j < Lk; j += kThreads) dsr[j] = __dmul_rn(double(pr[j]), dsr[j] - pp);
    __syncthreads();   // dS of the row is complete (global writes of this block are visible after the barrier)
    if (dq) {
      float* dqi = dq + (b * Lq + i) * E + h * Dh;
      for (int64_t c = threadIdx.x; c < Dh; c += kThreads) {
        double acc = 0;
        for (int64_t j = 0; j < Lk; ++j) acc += __dmul_rn(dsr[j], double(kb[j * E + c]));
        dqi[c] = float(__dmul_rn(acc, s));
      }
    }
    __syncthreads();
  }
}

__global__ void attn_dkv_kernel(const float* __restrict__ q, const float* __restrict__ probs,
                                const float* __restrict__ dout, const double* __restrict__ ds, float* __restrict__ dk,
                                float* __restrict__ dv, int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t Dh,
                                double s) {
  const int64_t E = H * Dh, cols = B * H * Lk;
  for (int64_t r = blockIdx.x; r < cols; r += gridDim.x) {
    const int64_t bh = r / Lk, j = r % Lk, b = bh / H, h = bh % H;
    const float* qb = q + b * Lq * E + h * Dh;
    const float* gb = dout + b * Lq * E + h * Dh;
    const float* pb = probs + bh * Lq * Lk;
    const double* dsb = ds + bh * Lq * Lk;
    for (int64_t c = threadIdx.x; c < Dh; c += blockDim.x) {
      double ak = 0, av = 0;
      for (int64_t i = 0; i < Lq; ++i) {
        ak += __dmul_rn(dsb[i * Lk + j], double(qb[i * E + c]));
        av += __dmul_rn(double(pb[i * Lk + j]), double(gb[i * E + c]));
      }
      const int64_t o = (b * Lk + j) * E + h * Dh + c;
      if (dk) dk[o] = float(__dmul_rn(ak, s));
      if (dv) dv[o] = float(av);
    }
  }
}

unsigned row_blocks(int64_t rows) { return unsigned(rows < kMaxBlocks ? rows : kMaxBlocks); }

}  // namespace

int64_t attention_cuda_workspace(int64_t B, int64_t H, int64_t Lq, int64_t Lk) { return B * H * Lq * Lk; }

void attention_forward_cuda(const float* q, const float* k, const float* v, float* out, float* probs, int64_t B,
                            int64_t H, int64_t Lq, int64_t Lk, int64_t Dh, void* stream) {
  const int64_t rows = B * H * Lq;
  if (rows == 0 || Dh == 0) return;
  SPK_CHECK(Lk > 0, "attention_forward_cuda: no keys (Lk 0) for ", Lq, " queries");
  SPK_CHECK(Lk <= kMaxKeys, "attention_forward_cuda: ", Lk, " keys exceed the ", kMaxKeys,
            " that one block's shared memory holds");
  const size_t smem = sizeof(double) * size_t(Lk);
  attn_forward_kernel<<<row_blocks(rows), kThreads, smem, cudaStream_t(stream)>>>(q, k, v, out, probs, B, H, Lq, Lk,
                                                                                  Dh, 1.0 / std::sqrt(double(Dh)));
  SPK_KERNEL_LAUNCH_CHECK();
}

void attention_backward_cuda(const float* q, const float* k, const float* v, const float* probs, const float* dout,
                             float* dq, float* dk, float* dv, int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t Dh,
                             double* workspace, void* stream) {
  const cudaStream_t st = cudaStream_t(stream);
  const double s = 1.0 / std::sqrt(double(Dh));
  if (B * H == 0 || Dh == 0) return;
  if (Lq > 0 && Lk > 0) {
    attn_dscores_kernel<<<row_blocks(B * H * Lq), kThreads, 0, st>>>(k, v, probs, dout, dq, workspace, B, H, Lq, Lk,
                                                                     Dh, s);
    SPK_KERNEL_LAUNCH_CHECK();
  }
  if ((dk || dv) && Lk > 0) {
    if (Lq == 0) {   // no queries: the keys and values received no gradient
      const size_t bytes = sizeof(float) * size_t(B * Lk * H * Dh);
      if (dk) SPK_CUDA_CHECK(cudaMemsetAsync(dk, 0, bytes, st));
      if (dv) SPK_CUDA_CHECK(cudaMemsetAsync(dv, 0, bytes, st));
      return;
    }
    const int threads = Dh >= 128 ? 128 : (Dh >= 64 ? 64 : 32);
    attn_dkv_kernel<<<row_blocks(B * H * Lk), threads, 0, st>>>(q, probs, dout, workspace, dk, dv, B, H, Lq, Lk, Dh,
                                                                s);
    SPK_KERNEL_LAUNCH_CHECK();
  }
}

}  // namespace spk
