// CUDA GRU recurrence (kernels/gru/gru.h), f32 data with every dot product and sum in double in the CPU's order
// (gru_cpu.cpp): a thread owns each dot product and walks it in ascending k / j / (b, t) as the CPU loop does, so
// the sums match the CPU's doubles; only exp/tanh (CUDA's libdevice vs glibc, both within an ulp or two in
// double) and FMA contraction outside the dots (which __dmul_rn prevents inside them) can differ, before the one
// rounding to f32. Deterministic: no atomics.
//
//   forward:   one 256-thread block per sequence b walks t = 0..L−1; per step the block's threads compute
//              gh = W_hh h_p + b_hh (one thread per row j, grid-stride) into shared memory, sync, then the gates
//              and h_t (one thread per c). h_p is read back from h (global), as the CPU reads the rounded h_{t−1}.
//   backward:  (1) one block per sequence walks t = L−1..0: a thread per c writes dgi and d ⊙ z, the block puts
//              dgh (3H doubles) in shared memory, then a thread per k sums the carry δ[k] = d⊙z + Σ_j W[j,k]·dgh[j]
//              (ascending j) into shared memory for the step before; dh0 = δ_0.
//              (2) one thread per element of dw_hh (and of db_hh): Σ_b Σ_t dgh[b,t,j]·h_p[b,t,k], b outer.
// The recurrence is latency-bound (L dependent steps of B·3H·H work): enough for the CPC context network's
// batch × 256 state; a persistent multi-block or cuBLAS-per-step version is the next step if it shows in a profile.
#include <cmath>
#include <cstdint>

#include "kernels/common/check.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/gru/gru.h"

namespace spk {

namespace {

using namespace cuda_launch;

__device__ __forceinline__ double sigmoid_d(double v) { return 1.0 / (1.0 + exp(-v)); }

__device__ __forceinline__ const float* prev_h(const float* h0, const float* h, int64_t b, int64_t t, int64_t L,
                                               int64_t H) {
  return t == 0 ? h0 + b * H : h + (b * L + t - 1) * H;
}

__global__ void gru_forward_kernel(const float* __restrict__ gi, const float* __restrict__ h0,
                                   const float* __restrict__ w_hh, const float* __restrict__ b_hh, float* h,
                                   float* __restrict__ gates, int64_t L, int64_t H) {
  extern __shared__ double gh[];   // 3H
  const int64_t b = blockIdx.x;
  for (int64_t t = 0; t < L; ++t) {
    const float* hp = prev_h(h0, h, b, t, L, H);
    for (int64_t j = threadIdx.x; j < 3 * H; j += blockDim.x) {
      double acc = 0;
      for (int64_t k = 0; k < H; ++k) acc += __dmul_rn(double(w_hh[j * H + k]), double(hp[k]));
      gh[j] = acc + (b_hh ? double(b_hh[j]) : 0.0);
    }
    __syncthreads();
    const float* g = gi + (b * L + t) * 3 * H;
    float* gt = gates + (b * L + t) * 4 * H;
    float* ht = h + (b * L + t) * H;
    for (int64_t c = threadIdx.x; c < H; c += blockDim.x) {
      const double r = sigmoid_d(double(g[c]) + gh[c]);
      const double z = sigmoid_d(double(g[H + c]) + gh[H + c]);
      const double n = tanh(double(g[2 * H + c]) + __dmul_rn(r, gh[2 * H + c]));
      gt[c] = float(r);
      gt[H + c] = float(z);
      gt[2 * H + c] = float(n);
      gt[3 * H + c] = float(gh[2 * H + c]);
      ht[c] = float(__dadd_rn(__dmul_rn(1.0 - z, n), __dmul_rn(z, double(hp[c]))));
    }
    __syncthreads();   // h_t is visible to the whole block before the next step reads it as h_p
  }
}

__global__ void gru_backward_time_kernel(const float* __restrict__ h0, const float* __restrict__ w_hh,
                                         const float* __restrict__ h, const float* __restrict__ gates,
                                         const float* __restrict__ dh, float* __restrict__ dgi,
                                         float* __restrict__ dh0, int64_t L, int64_t H) {
  extern __shared__ double smem[];
  double* dgh = smem;            // 3H
  double* carry = smem + 3 * H;  // H
  const int64_t b = blockIdx.x;
  for (int64_t c = threadIdx.x; c < H; c += blockDim.x) carry[c] = 0;
  __syncthreads();
  for (int64_t t = L - 1; t >= 0; --t) {
    const float* hp = prev_h(h0, h, b, t, L, H);
    const float* gt = gates + (b * L + t) * 4 * H;
    float* dg = dgi + (b * L + t) * 3 * H;
    double direct[kGruCudaMaxHidden / kThreads];   // d ⊙ z of this thread's c, kept until the carry sum
    int slot = 0;
    for (int64_t c = threadIdx.x; c < H; c += blockDim.x, ++slot) {
      const double r = gt[c], z = gt[H + c], n = gt[2 * H + c], ghn = gt[3 * H + c];
      const double d = double(dh[(b * L + t) * H + c]) + carry[c];
      const double a_n = __dmul_rn(__dmul_rn(d, 1.0 - z), 1.0 - __dmul_rn(n, n));
      const double a_r = __dmul_rn(__dmul_rn(__dmul_rn(a_n, ghn), r), 1.0 - r);
      const double a_z = __dmul_rn(__dmul_rn(__dmul_rn(d, double(hp[c]) - n), z), 1.0 - z);
      dg[c] = float(a_r);
      dg[H + c] = float(a_z);
      dg[2 * H + c] = float(a_n);
      direct[slot] = __dmul_rn(d, z);
      dgh[c] = double(float(a_r));
      dgh[H + c] = double(float(a_z));
      dgh[2 * H + c] = __dmul_rn(double(float(a_n)), r);
    }
    __syncthreads();   // dgh complete; every read of carry for this step is done
    slot = 0;
    for (int64_t k = threadIdx.x; k < H; k += blockDim.x, ++slot) {
      double acc = 0;
      for (int64_t j = 0; j < 3 * H; ++j) acc += __dmul_rn(double(w_hh[j * H + k]), dgh[j]);
      carry[k] = direct[slot] + acc;
    }
    __syncthreads();   // the carry is complete before the step before reads it and dgh is overwritten
  }
  if (dh0)
    for (int64_t k = threadIdx.x; k < H; k += blockDim.x) dh0[b * H + k] = float(carry[k]);
}

__global__ void gru_backward_weights_kernel(const float* __restrict__ h0, const float* __restrict__ h,
                                            const float* __restrict__ gates, const float* __restrict__ dgi,
                                            float* __restrict__ dw_hh, float* __restrict__ db_hh, int64_t B,
                                            int64_t L, int64_t H) {
  const int64_t n_w = 3 * H * H;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n_w + 3 * H;
       e += int64_t(gridDim.x) * blockDim.x) {
    const bool bias = e >= n_w;
    if (bias && !db_hh) continue;
    const int64_t j = bias ? e - n_w : e / H, k = bias ? 0 : e % H, c = j % H;
    const bool n_gate = j >= 2 * H;
    double acc = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < L; ++t) {
        const int64_t bt = b * L + t;
        const double v = n_gate ? __dmul_rn(double(dgi[bt * 3 * H + j]), double(gates[bt * 4 * H + c]))
                                : double(dgi[bt * 3 * H + j]);
        acc += bias ? v : __dmul_rn(v, double(prev_h(h0, h, b, t, L, H)[k]));
      }
    if (bias) db_hh[j] = float(acc);
    else dw_hh[e] = float(acc);
  }
}

}  // namespace

void gru_forward_cuda(const float* gi, const float* h0, const float* w_hh, const float* b_hh, float* h, float* gates,
                      int64_t B, int64_t L, int64_t H, void* stream) {
  if (B == 0 || L == 0) return;
  SPK_CHECK(H > 0 && H <= kGruCudaMaxHidden, "gru_forward_cuda: hidden size ", H, " outside [1, ", kGruCudaMaxHidden,
            "]");
  gru_forward_kernel<<<unsigned(B), kThreads, sizeof(double) * size_t(3 * H), cudaStream_t(stream)>>>(
      gi, h0, w_hh, b_hh, h, gates, L, H);
  SPK_KERNEL_LAUNCH_CHECK();
}

void gru_backward_cuda(const float* h0, const float* w_hh, const float* h, const float* gates, const float* dh,
                       float* dgi, float* dh0, float* dw_hh, float* db_hh, int64_t B, int64_t L, int64_t H,
                       void* stream) {
  SPK_CHECK(H > 0 && H <= kGruCudaMaxHidden, "gru_backward_cuda: hidden size ", H, " outside [1, ", kGruCudaMaxHidden,
            "]");
  const cudaStream_t st = cudaStream_t(stream);
  if (B > 0) {
    gru_backward_time_kernel<<<unsigned(B), kThreads, sizeof(double) * size_t(4 * H), st>>>(h0, w_hh, h, gates, dh,
                                                                                          dgi, dh0, L, H);
    SPK_KERNEL_LAUNCH_CHECK();
  }
  gru_backward_weights_kernel<<<blocks_for(3 * H * H + 3 * H), kThreads, 0, st>>>(h0, h, gates, dgi, dw_hh, db_hh, B,
                                                                                 L, H);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
