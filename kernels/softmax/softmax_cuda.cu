// CUDA softmax, log-softmax and fused cross-entropy (kernels/softmax/softmax.h), f32 with double sums.
//
// Layout (outer, C, inner), normalised over C.
//   inner == 1 (the usual case: softmax over the last dim, logits (N, C)): a group of threads per row —
//       a warp when C <= 1024, a 256-thread block above (a 5994-speaker classifier) — makes three passes
//       over the row: max, Σ exp(x − max), write. The row stays in L1/L2 between passes.
//   inner > 1: one thread per (o, i) column walks C serially; reads are coalesced across i.
// Stability: max-subtracted. Σ is accumulated in double (the rows are long and the result feeds a log).
// Deterministic: group reductions are a fixed xor-butterfly plus, for blocks, a fixed-order pass over
// the warps' partials; every lane of a group ends with the same bits, so all lanes write consistently.
// NaN anywhere in a row makes the whole row NaN (through the sum), as in PyTorch.
//
// Cross-entropy backward is elementwise over (N, C) given the saved lse, so it is a flat kernel.
// Labels are range-checked by the engine; a label outside [0, C) still never reads out of bounds here:
// its loss is NaN and its row's gradient has no one-hot term.
#include <cmath>
#include <cstdint>

#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/softmax/softmax.h"

namespace spk {

namespace {

using namespace cuda_launch;
constexpr int64_t kWarpRowMaxC = 1024; // above this a whole block takes a row


struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct AddOp {
  __device__ double operator()(double a, double b) const { return a + b; }
};

// All-reduce over a group of TPR consecutive threads (TPR = 32: a warp; TPR = kThreads: the block).
// `scratch` is one double per warp of the block; float values round-trip through double exactly.
// Every thread of the block must call this the same number of times when TPR > 32 (it has barriers).
template <int TPR, class T, class Op>
__device__ T group_allreduce(T v, Op op, double* scratch) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  if constexpr (TPR > 32) {
    const int warp = threadIdx.x / 32;
    __syncthreads();   // the previous reduction's readers are done with scratch
    if (threadIdx.x % 32 == 0) scratch[warp] = double(v);
    __syncthreads();
    v = T(scratch[0]);
    for (int w = 1; w < TPR / 32; ++w) v = op(v, T(scratch[w]));
  }
  return v;
}

// Rows of a (rows, C) buffer go to groups of TPR consecutive threads. A group's row loop is uniform
// across the group (a warp for TPR = 32, the block for TPR = kThreads), which shuffles and barriers need.
template <int TPR>
struct RowGroups {
  static constexpr int kRowsPerBlock = kThreads / TPR;
  __device__ static int lane() { return int(threadIdx.x) % TPR; }
  __device__ static int64_t first() { return int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / TPR; }
  __device__ static int64_t stride() { return int64_t(gridDim.x) * kRowsPerBlock; }
};

// Max and Σ exp(x − max) of one row, all lanes of the group getting both.
template <int TPR>
__device__ void row_max_sumexp(const float* __restrict__ xr, int64_t C, int lane, double* scratch, float& m,
                               double& s) {
  m = -INFINITY;
  for (int64_t c = lane; c < C; c += TPR) m = fmaxf(m, xr[c]);
  m = group_allreduce<TPR>(m, MaxOp{}, scratch);
  s = 0.0;
  for (int64_t c = lane; c < C; c += TPR) s += double(expf(xr[c] - m));
  s = group_allreduce<TPR>(s, AddOp{}, scratch);
}

template <int TPR>
__global__ void softmax_rows_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int64_t C,
                                    bool log_out) {
  __shared__ double scratch[kThreads / 32];
  using G = RowGroups<TPR>;
  const int lane = G::lane();
  for (int64_t r = G::first(); r < rows; r += G::stride()) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    float m;
    double s;
    row_max_sumexp<TPR>(xr, C, lane, scratch, m, s);
    if (log_out) {
      const float log_s = float(::log(s));
      for (int64_t c = lane; c < C; c += TPR) yr[c] = (xr[c] - m) - log_s;
    } else {
      const float sf = float(s);
      for (int64_t c = lane; c < C; c += TPR) yr[c] = expf(xr[c] - m) / sf;
    }
  }
}

// inner > 1: one thread per column (o, i), elements C apart by `inner`.
__global__ void softmax_cols_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t outer, int64_t C,
                                    int64_t inner, bool log_out) {
  const int64_t n = outer * inner, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t o = j / inner, i = j - o * inner, base = o * C * inner + i;
    float m = -INFINITY;
    for (int64_t c = 0; c < C; ++c) m = fmaxf(m, x[base + c * inner]);
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += double(expf(x[base + c * inner] - m));
    if (log_out) {
      const float log_s = float(::log(s));
      for (int64_t c = 0; c < C; ++c) y[base + c * inner] = (x[base + c * inner] - m) - log_s;
    } else {
      const float sf = float(s);
      for (int64_t c = 0; c < C; ++c) y[base + c * inner] = expf(x[base + c * inner] - m) / sf;
    }
  }
}

// softmax:     dx = y ⊙ (dy − Σ dy ⊙ y)
// log_softmax: dx = dy − exp(y) ⊙ Σ dy
template <int TPR>
__global__ void softmax_backward_rows_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                             float* __restrict__ dx, int64_t rows, int64_t C, bool log_out) {
  __shared__ double scratch[kThreads / 32];
  using G = RowGroups<TPR>;
  const int lane = G::lane();
  for (int64_t r = G::first(); r < rows; r += G::stride()) {
    const float *yr = y + r * C, *gr = dy + r * C;
    float* dr = dx + r * C;
    double s = 0.0;
    if (log_out) for (int64_t c = lane; c < C; c += TPR) s += double(gr[c]);
    else for (int64_t c = lane; c < C; c += TPR) s += double(gr[c]) * double(yr[c]);
    const float sf = float(group_allreduce<TPR>(s, AddOp{}, scratch));
    if (log_out) for (int64_t c = lane; c < C; c += TPR) dr[c] = gr[c] - expf(yr[c]) * sf;
    else for (int64_t c = lane; c < C; c += TPR) dr[c] = yr[c] * (gr[c] - sf);
  }
}

__global__ void softmax_backward_cols_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                             float* __restrict__ dx, int64_t outer, int64_t C, int64_t inner,
                                             bool log_out) {
  const int64_t n = outer * inner, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t o = j / inner, i = j - o * inner, base = o * C * inner + i;
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      const int64_t e = base + c * inner;
      s += log_out ? double(dy[e]) : double(dy[e]) * double(y[e]);
    }
    const float sf = float(s);
    for (int64_t c = 0; c < C; ++c) {
      const int64_t e = base + c * inner;
      dx[e] = log_out ? dy[e] - expf(y[e]) * sf : y[e] * (dy[e] - sf);
    }
  }
}

// loss[n] = lse[n] − x[n, label[n]], lse = max + log Σ exp(x − max), formed in double.
template <int TPR>
__global__ void cross_entropy_forward_kernel(const float* __restrict__ logits, const int64_t* __restrict__ labels,
                                             float* __restrict__ loss, float* __restrict__ lse, int64_t N, int64_t C) {
  __shared__ double scratch[kThreads / 32];
  using G = RowGroups<TPR>;
  const int lane = G::lane();
  for (int64_t r = G::first(); r < N; r += G::stride()) {
    const float* xr = logits + r * C;
    float m;
    double s;
    row_max_sumexp<TPR>(xr, C, lane, scratch, m, s);
    if (lane == 0) {
      const double l = double(m) + ::log(s);
      const int64_t label = labels[r];
      lse[r] = float(l);
      loss[r] = (label >= 0 && label < C) ? float(l - double(xr[label])) : NAN;
    }
  }
}

// dx[n, c] = dloss[n] · (exp(x[n, c] − lse[n]) − [c == label[n]])
__global__ void cross_entropy_backward_kernel(const float* __restrict__ logits, const int64_t* __restrict__ labels,
                                              const float* __restrict__ lse, const float* __restrict__ dloss,
                                              float* __restrict__ dlogits, int64_t N, int64_t C) {
  const int64_t n = N * C, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t r = j / C, c = j - r * C;
    const float onehot = labels[r] == c ? 1.0f : 0.0f;
    dlogits[j] = dloss[r] * (expf(logits[j] - lse[r]) - onehot);
  }
}

// Grid for a row kernel with TPR threads per row.
unsigned row_blocks(int64_t rows, int tpr) { return blocks_for(rows * tpr); }

}  // namespace

void softmax_forward_cuda(const float* x, float* y, int64_t outer, int64_t C, int64_t inner, bool log, void* stream) {
  if (outer * C * inner == 0) return;
  auto s = cudaStream_t(stream);
  if (inner == 1) {
    if (C <= kWarpRowMaxC)
      softmax_rows_kernel<32><<<row_blocks(outer, 32), kThreads, 0, s>>>(x, y, outer, C, log);
    else
      softmax_rows_kernel<kThreads><<<row_blocks(outer, kThreads), kThreads, 0, s>>>(x, y, outer, C, log);
  } else {
    softmax_cols_kernel<<<blocks_for(outer * inner), kThreads, 0, s>>>(x, y, outer, C, inner, log);
  }
  SPK_KERNEL_LAUNCH_CHECK();
}

void softmax_backward_cuda(const float* y, const float* dy, float* dx, int64_t outer, int64_t C, int64_t inner,
                           bool log, void* stream) {
  if (outer * C * inner == 0) return;
  auto s = cudaStream_t(stream);
  if (inner == 1) {
    if (C <= kWarpRowMaxC)
      softmax_backward_rows_kernel<32><<<row_blocks(outer, 32), kThreads, 0, s>>>(y, dy, dx, outer, C, log);
    else
      softmax_backward_rows_kernel<kThreads><<<row_blocks(outer, kThreads), kThreads, 0, s>>>(y, dy, dx, outer, C,
                                                                                             log);
  } else {
    softmax_backward_cols_kernel<<<blocks_for(outer * inner), kThreads, 0, s>>>(y, dy, dx, outer, C, inner, log);
  }
  SPK_KERNEL_LAUNCH_CHECK();
}

void cross_entropy_forward_cuda(const float* logits, const int64_t* labels, float* loss, float* lse, int64_t N,
                                int64_t C, void* stream) {
  if (N == 0) return;
  SPK_CHECK(C > 0, "cross_entropy_forward_cuda: logits (", N, ", 0) have no classes");
  auto s = cudaStream_t(stream);
  if (C <= kWarpRowMaxC)
    cross_entropy_forward_kernel<32><<<row_blocks(N, 32), kThreads, 0, s>>>(logits, labels, loss, lse, N, C);
  else
    cross_entropy_forward_kernel<kThreads><<<row_blocks(N, kThreads), kThreads, 0, s>>>(logits, labels, loss, lse, N,
                                                                                         C);
  SPK_KERNEL_LAUNCH_CHECK();
}

void cross_entropy_backward_cuda(const float* logits, const int64_t* labels, const float* lse, const float* dloss,
                                 float* dlogits, int64_t N, int64_t C, void* stream) {
  if (N * C == 0) return;
  cross_entropy_backward_kernel<<<blocks_for(N * C), kThreads, 0, cudaStream_t(stream)>>>(logits, labels, lse, dloss,
                                                                                         dlogits, N, C);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
