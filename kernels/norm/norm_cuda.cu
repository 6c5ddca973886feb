// CUDA batch norm, fused batch norm + ReLU, fused ReLU + batch norm, and instance norm (kernels/norm/norm.h), f32
// data with every
// sum and every per-element formula in double, as norm_cpu.cpp — so results match the CPU to the last f32
// bit except where two double sums taken in different orders round differently (~1e-16 relative).
//
// Batch norm, x seen as (N, C, S), M = N·S values per channel. Per-channel sums are split over B blocks
// per channel (grid (B, C)): block (b, c) walks the channel's elements k = b·256 + t + j·B·256 (k → (n, i)
// tracked incrementally, no division per element), sums in double, reduces the block in a fixed tree and
// writes one double partial to the workspace. A finalize kernel (one thread per channel) adds the B
// partials in order. Statistics are two-pass like the CPU: partial Σx → mean (every block of pass 2
// recomputes the mean from the same partials in the same order, so all agree bit for bit) → partial
// Σ(x − mean)² → var, invstd. The backward reduces Σg and Σg·x̂ the same way, then an elementwise kernel
// writes dx. Deterministic: no atomics; the order of every sum depends on the shape only.
// relu_batch_norm runs the same kernels with relu_in set: every read of x becomes max(x, 0) (the statistics, the
// normalised value, x̂ in the gradient sums), and dx is 0 where x <= 0.
// Workspace (doubles, caller-allocated on the device): 2·C·B partials + 2·C (Σg, Σg·x̂ for the dx kernel).
//
// Products that feed an addition are written __dmul_rn: nvcc would otherwise contract them into FMAs,
// which the CPU reference (x86-64 without -mfma) does not do.
//
// Instance norm, x (N, C, T): one 256-thread block per (n, c) row (grid-stride over rows, uniform per
// block so the barriers are safe), two-pass statistics, then the row is written. The backward writes the
// row's dx and its Σg, Σg·x̂ to the workspace (2·N·C doubles); a per-channel kernel then sums them over n
// in ascending order, exactly as the CPU accumulates dweight/dbias.
//
// Layer norm, x (R, D): as instance norm, one block per row (the weight indexed by column); no workspace: the
// backward's dweight/dbias are one thread per column summing over the rows in ascending order.
#include <cmath>
#include <cstdint>

#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/norm/norm.h"

namespace spk {

namespace {

using namespace cuda_launch;
constexpr int kWarps = kThreads / 32;
constexpr int64_t kMaxSplits = 128;          // blocks per channel
constexpr int64_t kElemsPerThread = 8;       // target work per thread before adding another split
constexpr unsigned kMaxGridY = 65535;

// The value the normalisation sees: x, or max(x, 0) when a ReLU precedes it (relu_in; NaN -> 0 as UnaryOp::relu).
__device__ __forceinline__ float bn_in(float v, bool relu_in) { return relu_in ? (v > 0.0f ? v : 0.0f) : v; }

// The gradient reaching the normalisation: dy, or dy masked by the ReLU that followed it (y > 0).
__device__ __forceinline__ double grad_in(const float* __restrict__ dy, const float* __restrict__ relu_y, int64_t k) {
  if (relu_y) return relu_y[k] > 0.0f ? double(dy[k]) : 0.0;
  return double(dy[k]);
}

// ---------------------------------------------------------------------------------------------- batch norm

enum class Pass { sum, sq, grad };

// Partials of channel c from block b into ws0[c·B + b] (and ws1 for the gradient's second sum).
//   sum:  Σ x                 sq: Σ (x − m)², m from ws0's partials        grad: Σ g, Σ g·(x − mean)·invstd
template <Pass P>
__global__ void bn_partial_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                  const float* __restrict__ relu_y, const float* __restrict__ mean,
                                  const float* __restrict__ invstd, double* __restrict__ ws0, double* __restrict__ ws1,
                                  int64_t N, int64_t C, int64_t S, int64_t B, bool relu_in) {
  __shared__ double scratch[kWarps + 1];
  const int64_t M = N * S, step = B * kThreads, dq = step / S, dr = step % S;
  const int64_t k0 = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  for (int64_t c = blockIdx.y; c < C; c += gridDim.y) {
    double m = 0, is = 0;
    if constexpr (P == Pass::sq) {
      double s = 0;
      for (int64_t b = 0; b < B; ++b) s += ws0[c * B + b];
      m = s / double(M);
    }
    if constexpr (P == Pass::grad) {
      m = double(mean[c]);
      is = double(invstd[c]);
    }
    double a0 = 0, a1 = 0;
    if (k0 < M) {
      int64_t n = k0 / S, i = k0 - n * S;
      while (n < N) {   // n < N  <=>  k < M
        const int64_t off = (n * C + c) * S + i;
        const double v = double(bn_in(x[off], relu_in));
        if constexpr (P == Pass::sum) {
          a0 += v;
        } else if constexpr (P == Pass::sq) {
          const double d = v - m;
          a0 += __dmul_rn(d, d);
        } else {
          const double g = grad_in(dy, relu_y, off);
          a0 += g;
          a1 += __dmul_rn(__dmul_rn(g, v - m), is);   // the CPU's (g·(x − m))·is
        }
        i += dr;
        n += dq;
        if (i >= S) {
          i -= S;
          ++n;
        }
      }
    }
    a0 = block_allsum(a0, scratch);
    if constexpr (P == Pass::grad) a1 = block_allsum(a1, scratch);
    if (threadIdx.x == 0) {
      if constexpr (P == Pass::sq) ws1[c * B + blockIdx.x] = a0;
      else ws0[c * B + blockIdx.x] = a0;
      if constexpr (P == Pass::grad) ws1[c * B + blockIdx.x] = a1;
    }
  }
}

// Also updates the running statistics when run.mean is set (BnRunningUpdate), with the _rn intrinsics so that
// no product is fused into an FMA: the same roundings as the engine ops this replaced.
__global__ void bn_stats_finalize_kernel(const double* __restrict__ ws0, const double* __restrict__ ws1,
                                         float* __restrict__ mean, float* __restrict__ var,
                                         float* __restrict__ invstd, int64_t C, int64_t B, double M, double eps,
                                         BnRunningUpdate run) {
  const float keep = float(1 - run.momentum), take = float(run.momentum), unbias = float(M / (M - 1));
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    double s = 0, q = 0;
    for (int64_t b = 0; b < B; ++b) s += ws0[c * B + b];
    for (int64_t b = 0; b < B; ++b) q += ws1[c * B + b];
    const float m = float(s / M), v = float(q / M);
    mean[c] = m;
    var[c] = v;
    invstd[c] = float(1.0 / sqrt(q / M + eps));
    if (run.mean) {
      run.mean[c] = __fadd_rn(__fmul_rn(run.mean[c], keep), __fmul_rn(m, take));
      run.var[c] = __fadd_rn(__fmul_rn(run.var[c], keep), __fmul_rn(__fmul_rn(v, unbias), take));
    }
  }
}

__global__ void bn_count_kernel(int64_t* counter) { *counter += 1; }

// Σg, Σg·x̂ per channel: to dbias/dweight (when wanted) and, in double, to sums[c], sums[C + c] for dx.
__global__ void bn_grad_finalize_kernel(const double* __restrict__ ws0, const double* __restrict__ ws1,
                                        double* __restrict__ sums, float* __restrict__ dweight,
                                        float* __restrict__ dbias, int64_t C, int64_t B) {
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    double sg = 0, sgx = 0;
    for (int64_t b = 0; b < B; ++b) sg += ws0[c * B + b];
    for (int64_t b = 0; b < B; ++b) sgx += ws1[c * B + b];
    sums[c] = sg;
    sums[C + c] = sgx;
    if (dbias) dbias[c] = float(sg);
    if (dweight) dweight[c] = float(sgx);
  }
}

// y = x·scale + shift per channel (double), optionally followed by ReLU on the f32 value. I: index type
// (uint32_t when the tensor fits, so the channel's division is cheap).
template <class I>
__global__ void bn_forward_kernel(const float* __restrict__ x, const float* __restrict__ mean,
                                  const float* __restrict__ invstd, const float* __restrict__ weight,
                                  const float* __restrict__ bias, float* __restrict__ y, I C, I S, I n, bool relu,
                                  bool relu_in) {
  const I step = I(gridDim.x) * blockDim.x;
  for (I j = I(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const I c = (j / S) % C;
    const double scale = __dmul_rn(double(invstd[c]), weight ? double(weight[c]) : 1.0);
    const double shift = (bias ? double(bias[c]) : 0.0) - __dmul_rn(double(mean[c]), scale);
    const float z = float(__dmul_rn(double(bn_in(x[j], relu_in)), scale) + shift);
    y[j] = relu ? (z > 0.0f ? z : 0.0f) : z;
  }
}

// dx from the per-channel sums (norm.h formulas), in double.
template <class I>
__global__ void bn_dx_kernel(const float* __restrict__ x, const float* __restrict__ mean,
                             const float* __restrict__ invstd, const float* __restrict__ weight,
                             const float* __restrict__ dy, const float* __restrict__ relu_y,
                             const double* __restrict__ sums, float* __restrict__ dx, I C, I S, I n, double M,
                             bool batch_stats, bool relu_in) {
  const I step = I(gridDim.x) * blockDim.x;
  for (I j = I(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    if (relu_in && !(x[j] > 0.0f)) {   // the ReLU in front passes no gradient here
      dx[j] = 0.0f;
      continue;
    }
    const I c = (j / S) % C;
    const double is = double(invstd[c]), w = weight ? double(weight[c]) : 1.0;
    const double g = grad_in(dy, relu_y, int64_t(j));
    if (batch_stats) {
      const double xh = __dmul_rn(double(x[j]) - double(mean[c]), is);
      // The CPU's w·is/M · (M·g − Σg − x̂·Σg·x̂), operation for operation.
      const double a = __dmul_rn(M, g) - sums[c] - __dmul_rn(xh, sums[C + c]);
      dx[j] = float(__dmul_rn(__dmul_rn(w, is) / M, a));
    } else {
      dx[j] = float(__dmul_rn(__dmul_rn(w, is), g));
    }
  }
}

int64_t bn_splits(int64_t N, int64_t C, int64_t S) {
  const int64_t M = N * S, per_block = int64_t(kThreads) * kElemsPerThread;
  const int64_t b = (M + per_block - 1) / per_block;
  return b < 1 ? 1 : (b > kMaxSplits ? kMaxSplits : b);
}

dim3 bn_grid(int64_t C, int64_t B) { return dim3(unsigned(B), unsigned(C < kMaxGridY ? C : kMaxGridY)); }

template <class F>
void with_index_type(int64_t n, F&& f) {
  if (n < (int64_t(1) << 31)) f(uint32_t(0));
  else f(int64_t(0));
}

void bn_forward_launch(const float* x, const float* mean, const float* invstd, const float* weight, const float* bias,
                       float* y, int64_t N, int64_t C, int64_t S, bool relu, cudaStream_t s, bool relu_in = false) {
  const int64_t n = N * C * S;
  if (n == 0) return;
  with_index_type(n, [&](auto tag) {
    using I = decltype(tag);
    bn_forward_kernel<I><<<blocks_for(n), kThreads, 0, s>>>(x, mean, invstd, weight, bias, y, I(C), I(S), I(n), relu,
                                                          relu_in);
  });
  SPK_KERNEL_LAUNCH_CHECK();
}

void bn_backward_launch(const float* x, const float* relu_y, const float* mean, const float* invstd,
                        const float* weight, const float* dy, float* dx, float* dweight, float* dbias, int64_t N,
                        int64_t C, int64_t S, bool batch_stats, double* ws, cudaStream_t s, bool relu_in = false) {
  if (C == 0) return;
  const int64_t M = N * S;
  if (M == 0) {   // nothing to normalise: the parameter gradients are sums over nothing
    if (dweight) SPK_CUDA_CHECK(cudaMemsetAsync(dweight, 0, sizeof(float) * size_t(C), s));
    if (dbias) SPK_CUDA_CHECK(cudaMemsetAsync(dbias, 0, sizeof(float) * size_t(C), s));
    return;
  }
  const int64_t B = bn_splits(N, C, S);
  double *ws0 = ws, *ws1 = ws + C * B, *sums = ws + 2 * C * B;
  bn_partial_kernel<Pass::grad><<<bn_grid(C, B), kThreads, 0, s>>>(x, dy, relu_y, mean, invstd, ws0, ws1, N, C, S, B,
                                                                    relu_in);
  SPK_KERNEL_LAUNCH_CHECK();
  bn_grad_finalize_kernel<<<blocks_for(C), kThreads, 0, s>>>(ws0, ws1, sums, dweight, dbias, C, B);
  SPK_KERNEL_LAUNCH_CHECK();
  if (!dx) return;
  const int64_t n = N * C * S;
  with_index_type(n, [&](auto tag) {
    using I = decltype(tag);
    bn_dx_kernel<I><<<blocks_for(n), kThreads, 0, s>>>(x, mean, invstd, weight, dy, relu_y, sums, dx, I(C), I(S),
                                                      I(n), double(M), batch_stats, relu_in);
  });
  SPK_KERNEL_LAUNCH_CHECK();
}

// ------------------------------------------------------------------------------ row statistics (instance, layer)

// The block's row of n values: two-pass mean m and is = 1 / sqrt(biased variance + eps) in double, as the CPU's
// row_stats; every thread of the block gets both.
__device__ void block_row_stats(const float* __restrict__ xr, int64_t n, double eps, double* scratch, double& m,
                                double& is) {
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) s += double(xr[i]);
  m = block_allsum(s, scratch) / double(n);
  double q = 0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    const double d = double(xr[i]) - m;
    q += __dmul_rn(d, d);
  }
  q = block_allsum(q, scratch);
  is = 1.0 / sqrt(q / double(n) + eps);
}

// ---------------------------------------------------------------------------------------------- instance norm

__global__ void in_forward_kernel(const float* __restrict__ x, const float* __restrict__ weight,
                                  const float* __restrict__ bias, float* __restrict__ y, float* __restrict__ mean,
                                  float* __restrict__ invstd, int64_t rows, int64_t C, int64_t Tn, double eps) {
  __shared__ double scratch[kWarps + 1];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* xr = x + row * Tn;
    double m, is;
    block_row_stats(xr, Tn, eps, scratch, m, is);
    const int64_t c = row % C;
    const double w = weight ? double(weight[c]) : 1.0, b = bias ? double(bias[c]) : 0.0;
    if (threadIdx.x == 0) {
      mean[row] = float(m);
      invstd[row] = float(is);
    }
    float* yr = y + row * Tn;
    for (int64_t t = threadIdx.x; t < Tn; t += kThreads)
      yr[t] = float(__dmul_rn(__dmul_rn(double(xr[t]) - m, is), w) + b);   // the CPU's ((x − m)·is)·w + b
  }
}

__global__ void in_backward_kernel(const float* __restrict__ x, const float* __restrict__ mean,
                                   const float* __restrict__ invstd, const float* __restrict__ weight,
                                   const float* __restrict__ dy, float* __restrict__ dx, double* __restrict__ row_sg,
                                   double* __restrict__ row_sgx, int64_t rows, int64_t C, int64_t Tn) {
  __shared__ double scratch[kWarps + 1];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* xr = x + row * Tn;
    const float* gr = dy + row * Tn;
    const double m = double(mean[row]), is = double(invstd[row]);
    const double w = weight ? double(weight[row % C]) : 1.0;
    double sg = 0, sgx = 0;
    for (int64_t t = threadIdx.x; t < Tn; t += kThreads) {
      const double g = double(gr[t]);
      sg += g;
      sgx += __dmul_rn(__dmul_rn(g, double(xr[t]) - m), is);
    }
    sg = block_allsum(sg, scratch);
    sgx = block_allsum(sgx, scratch);
    if (threadIdx.x == 0) {
      row_sg[row] = sg;
      row_sgx[row] = sgx;
    }
    if (!dx) continue;
    const double T = double(Tn), k = __dmul_rn(w, is) / T;
    float* dr = dx + row * Tn;
    for (int64_t t = threadIdx.x; t < Tn; t += kThreads) {
      const double xh = __dmul_rn(double(xr[t]) - m, is);
      dr[t] = float(__dmul_rn(k, __dmul_rn(T, double(gr[t])) - sg - __dmul_rn(xh, sgx)));
    }
  }
}

// dweight[c] = Σ_n row_sgx[n·C + c], dbias likewise, n ascending (the CPU's accumulation order).
__global__ void in_param_grad_kernel(const double* __restrict__ row_sg, const double* __restrict__ row_sgx,
                                     float* __restrict__ dweight, float* __restrict__ dbias, int64_t N, int64_t C) {
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    double dw = 0, db = 0;
    for (int64_t n = 0; n < N; ++n) {
      dw += row_sgx[n * C + c];
      db += row_sg[n * C + c];
    }
    if (dweight) dweight[c] = float(dw);
    if (dbias) dbias[c] = float(db);
  }
}

// ---------------------------------------------------------------------------------------------- layer norm

// One block per row of D values: two-pass statistics, then y = ((x − m)·is)·w[d] + b[d] as the CPU.
__global__ void ln_forward_kernel(const float* __restrict__ x, const float* __restrict__ weight,
                                  const float* __restrict__ bias, float* __restrict__ y, float* __restrict__ mean,
                                  float* __restrict__ invstd, int64_t R, int64_t D, double eps) {
  __shared__ double scratch[kWarps + 1];
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const float* xr = x + row * D;
    double m, is;
    block_row_stats(xr, D, eps, scratch, m, is);
    if (threadIdx.x == 0) {
      mean[row] = float(m);
      invstd[row] = float(is);
    }
    float* yr = y + row * D;
    for (int64_t d = threadIdx.x; d < D; d += kThreads) {
      const double w = weight ? double(weight[d]) : 1.0, b = bias ? double(bias[d]) : 0.0;
      yr[d] = float(__dmul_rn(__dmul_rn(double(xr[d]) - m, is), w) + b);
    }
  }
}

// dx of one row per block: Σĝ, Σĝ·x̂ (ĝ = g·w) over the row, then invstd/D · (D·ĝ − Σĝ − x̂·Σĝx̂).
__global__ void ln_dx_kernel(const float* __restrict__ x, const float* __restrict__ mean,
                             const float* __restrict__ invstd, const float* __restrict__ weight,
                             const float* __restrict__ dy, float* __restrict__ dx, int64_t R, int64_t D) {
  __shared__ double scratch[kWarps + 1];
  for (int64_t row = blockIdx.x; row < R; row += gridDim.x) {
    const float* xr = x + row * D;
    const float* gr = dy + row * D;
    const double m = double(mean[row]), is = double(invstd[row]);
    double sg = 0, sgx = 0;
    for (int64_t d = threadIdx.x; d < D; d += kThreads) {
      const double gw = __dmul_rn(double(gr[d]), weight ? double(weight[d]) : 1.0);
      sg += gw;
      sgx += __dmul_rn(gw, __dmul_rn(double(xr[d]) - m, is));
    }
    sg = block_allsum(sg, scratch);
    sgx = block_allsum(sgx, scratch);
    const double Dd = double(D), k = is / Dd;
    float* dr = dx + row * D;
    for (int64_t d = threadIdx.x; d < D; d += kThreads) {
      const double xh = __dmul_rn(double(xr[d]) - m, is);
      const double gw = __dmul_rn(double(gr[d]), weight ? double(weight[d]) : 1.0);
      dr[d] = float(__dmul_rn(k, __dmul_rn(Dd, gw) - sg - __dmul_rn(xh, sgx)));
    }
  }
}

// dweight[d] = Σ_r g·x̂, dbias[d] = Σ_r g: one thread per column, rows ascending (the CPU's order).
__global__ void ln_param_grad_kernel(const float* __restrict__ x, const float* __restrict__ mean,
                                     const float* __restrict__ invstd, const float* __restrict__ dy,
                                     float* __restrict__ dweight, float* __restrict__ dbias, int64_t R, int64_t D) {
  for (int64_t d = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; d < D; d += int64_t(gridDim.x) * blockDim.x) {
    double dw = 0, db = 0;
    for (int64_t r = 0; r < R; ++r) {
      const double g = double(dy[r * D + d]);
      db += g;
      dw += __dmul_rn(g, __dmul_rn(double(x[r * D + d]) - double(mean[r]), double(invstd[r])));
    }
    if (dweight) dweight[d] = float(dw);
    if (dbias) dbias[d] = float(db);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------- entry points

int64_t batch_norm_cuda_workspace(int64_t N, int64_t C, int64_t S) { return 2 * C * bn_splits(N, C, S) + 2 * C; }

namespace {

void bn_stats_launch(const char* who, const float* x, float* mean, float* var, float* invstd, int64_t N, int64_t C,
                     int64_t S, double eps, double* workspace, cudaStream_t s, const BnRunningUpdate& running,
                     bool relu_in) {
  const int64_t M = N * S;
  SPK_CHECK(M > 0, who, ": no values per channel (N ", N, ", C ", C, ", S ", S, ")");
  if (C == 0) return;
  const int64_t B = bn_splits(N, C, S);
  double *ws0 = workspace, *ws1 = workspace + C * B;
  bn_partial_kernel<Pass::sum><<<bn_grid(C, B), kThreads, 0, s>>>(x, nullptr, nullptr, nullptr, nullptr, ws0, ws1, N,
                                                                   C, S, B, relu_in);
  SPK_KERNEL_LAUNCH_CHECK();
  bn_partial_kernel<Pass::sq><<<bn_grid(C, B), kThreads, 0, s>>>(x, nullptr, nullptr, nullptr, nullptr, ws0, ws1, N,
                                                                  C, S, B, relu_in);
  SPK_KERNEL_LAUNCH_CHECK();
  bn_stats_finalize_kernel<<<blocks_for(C), kThreads, 0, s>>>(ws0, ws1, mean, var, invstd, C, B, double(M), eps,
                                                               running);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace

void batch_norm_stats_cuda(const float* x, float* mean, float* var, float* invstd, int64_t N, int64_t C, int64_t S,
                           double eps, double* workspace, void* stream, const BnRunningUpdate& running) {
  bn_stats_launch("batch_norm_stats_cuda", x, mean, var, invstd, N, C, S, eps, workspace, cudaStream_t(stream),
                  running, false);
}

void batch_norm_count_cuda(int64_t* counter, void* stream) {
  bn_count_kernel<<<1, 1, 0, cudaStream_t(stream)>>>(counter);
  SPK_KERNEL_LAUNCH_CHECK();
}

void batch_norm_forward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                             const float* bias, float* y, int64_t N, int64_t C, int64_t S, void* stream) {
  bn_forward_launch(x, mean, invstd, weight, bias, y, N, C, S, false, cudaStream_t(stream));
}

void batch_norm_backward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                              const float* dy, float* dx, float* dweight, float* dbias, int64_t N, int64_t C,
                              int64_t S, bool batch_stats, double* workspace, void* stream) {
  bn_backward_launch(x, nullptr, mean, invstd, weight, dy, dx, dweight, dbias, N, C, S, batch_stats, workspace,
                     cudaStream_t(stream));
}

void batch_norm_relu_forward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                                  const float* bias, float* y, int64_t N, int64_t C, int64_t S, void* stream) {
  bn_forward_launch(x, mean, invstd, weight, bias, y, N, C, S, true, cudaStream_t(stream));
}

void batch_norm_relu_backward_cuda(const float* x, const float* y, const float* mean, const float* invstd,
                                   const float* weight, const float* dy, float* dx, float* dweight, float* dbias,
                                   int64_t N, int64_t C, int64_t S, bool batch_stats, double* workspace,
                                   void* stream) {
  bn_backward_launch(x, y, mean, invstd, weight, dy, dx, dweight, dbias, N, C, S, batch_stats, workspace,
                     cudaStream_t(stream));
}

void relu_batch_norm_forward_cuda(const float* x, float* mean, float* var, float* invstd, const float* weight,
                                  const float* bias, float* y, int64_t N, int64_t C, int64_t S, double eps,
                                  bool batch_stats, double* workspace, void* stream, const BnRunningUpdate& running) {
  const cudaStream_t s = cudaStream_t(stream);
  if (batch_stats)
    bn_stats_launch("relu_batch_norm_forward_cuda", x, mean, var, invstd, N, C, S, eps, workspace, s, running, true);
  bn_forward_launch(x, mean, invstd, weight, bias, y, N, C, S, false, s, true);
}

void relu_batch_norm_backward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                                   const float* dy, float* dx, float* dweight, float* dbias, int64_t N, int64_t C,
                                   int64_t S, bool batch_stats, double* workspace, void* stream) {
  bn_backward_launch(x, nullptr, mean, invstd, weight, dy, dx, dweight, dbias, N, C, S, batch_stats, workspace,
                     cudaStream_t(stream), true);
}

int64_t instance_norm_cuda_workspace(int64_t N, int64_t C) { return 2 * N * C; }

void instance_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* y, float* mean,
                                float* invstd, int64_t N, int64_t C, int64_t Tn, double eps, void* stream) {
  const int64_t rows = N * C;
  if (rows == 0) return;
  SPK_CHECK(Tn > 0, "instance_norm_forward_cuda: empty rows (N ", N, ", C ", C, ", T 0)");
  const unsigned blocks = unsigned(rows < kMaxBlocks ? rows : kMaxBlocks);
  in_forward_kernel<<<blocks, kThreads, 0, cudaStream_t(stream)>>>(x, weight, bias, y, mean, invstd, rows, C, Tn, eps);
  SPK_KERNEL_LAUNCH_CHECK();
}

void instance_norm_backward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                                 const float* dy, float* dx, float* dweight, float* dbias, int64_t N, int64_t C,
                                 int64_t Tn, double* workspace, void* stream) {
  const cudaStream_t s = cudaStream_t(stream);
  if (C == 0) return;
  const int64_t rows = N * C;
  if (rows == 0 || Tn == 0) {
    if (dweight) SPK_CUDA_CHECK(cudaMemsetAsync(dweight, 0, sizeof(float) * size_t(C), s));
    if (dbias) SPK_CUDA_CHECK(cudaMemsetAsync(dbias, 0, sizeof(float) * size_t(C), s));
    return;
  }
  double *row_sg = workspace, *row_sgx = workspace + rows;
  const unsigned blocks = unsigned(rows < kMaxBlocks ? rows : kMaxBlocks);
  in_backward_kernel<<<blocks, kThreads, 0, s>>>(x, mean, invstd, weight, dy, dx, row_sg, row_sgx, rows, C, Tn);
  SPK_KERNEL_LAUNCH_CHECK();
  if (!dweight && !dbias) return;
  in_param_grad_kernel<<<blocks_for(C), kThreads, 0, s>>>(row_sg, row_sgx, dweight, dbias, N, C);
  SPK_KERNEL_LAUNCH_CHECK();
}

void layer_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* y, float* mean,
                             float* invstd, int64_t R, int64_t D, double eps, void* stream) {
  if (R == 0) return;
  SPK_CHECK(D > 0, "layer_norm_forward_cuda: empty rows (R ", R, ", D 0)");
  const unsigned blocks = unsigned(R < kMaxBlocks ? R : kMaxBlocks);
  ln_forward_kernel<<<blocks, kThreads, 0, cudaStream_t(stream)>>>(x, weight, bias, y, mean, invstd, R, D, eps);
  SPK_KERNEL_LAUNCH_CHECK();
}

void layer_norm_backward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                              const float* dy, float* dx, float* dweight, float* dbias, int64_t R, int64_t D,
                              void* stream) {
  const cudaStream_t s = cudaStream_t(stream);
  if (D == 0) return;
  if (dx && R > 0) {
    const unsigned blocks = unsigned(R < kMaxBlocks ? R : kMaxBlocks);
    ln_dx_kernel<<<blocks, kThreads, 0, s>>>(x, mean, invstd, weight, dy, dx, R, D);
    SPK_KERNEL_LAUNCH_CHECK();
  }
  if (!dweight && !dbias) return;
  ln_param_grad_kernel<<<blocks_for(D), kThreads, 0, s>>>(x, mean, invstd, dy, dweight, dbias, R, D);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
