// CUDA squeeze-excitation and add+ReLU (kernels/se/se.h), f32 data with every sum in double. Deterministic: no
// atomics, fixed reduction trees, weight gradients summed over n in ascending order by one thread each.
//
//   forward:  (1) one block per (n, c) row: pooled = Σ_s x / S
//             (2) one block per sample n: hidden (R, shared memory) then scale (C), each a thread's dot product
//             (3) y = x·scale, one thread per element
//   backward: (1) one block per row: dz2 = (Σ_s dy·x)·s(1 − s)                       -> workspace
//             (2) one block per sample: dz1 = (w2ᵀ dz2)·[h > 0] (shared), dm = w1ᵀ dz1 -> workspace
//             (3) one thread per element of dw2, dw1, db2, db1
//             (4) dx = dy·s + dm / S, one thread per element
// The small products are far below what cuBLAS needs to pay for its launches at SE sizes (N·C·R ≈ 40·512·128).
// Compiled with nvcc; not yet run on a GPU (tests/kernels/test_cuda_parity_se.cpp is its parity case).
#include <cmath>
#include <cstdint>

#include "kernels/common/check.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/se/se.h"

namespace spk {

namespace {

using namespace cuda_launch;

constexpr int kWarps = kThreads / 32;
constexpr int64_t kMaxRowBlocks = 65535;

// Per (n, c) row k: pooled[k] = Σ x / S (dy null), or dz2[k] = (Σ dy·x)·s(1 − s) with s = scale[k].
__global__ void se_rows_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                               const float* __restrict__ scale, float* __restrict__ out, int64_t rows, int64_t S) {
  __shared__ double scratch[kWarps + 1];
  for (int64_t k = blockIdx.x; k < rows; k += gridDim.x) {
    const float* xr = x + k * S;
    double a = 0;
    if (dy) {
      const float* gr = dy + k * S;
      for (int64_t i = threadIdx.x; i < S; i += blockDim.x) a += double(gr[i]) * double(xr[i]);
    } else {
      for (int64_t i = threadIdx.x; i < S; i += blockDim.x) a += double(xr[i]);
    }
    a = block_allsum(a, scratch);
    if (threadIdx.x == 0) {
      if (dy) {
        const double s = double(scale[k]);
        out[k] = float(a * s * (1 - s));
      } else {
        out[k] = float(a / double(S));
      }
    }
  }
}

__device__ __forceinline__ double sigmoid_d(double z) {
  return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

// One block per sample n: hidden = relu(w1·pooled + b1), then scale = sigmoid(w2·hidden + b2).
__global__ void se_fc_forward_kernel(const float* __restrict__ pooled, const float* __restrict__ w1,
                                     const float* __restrict__ b1, const float* __restrict__ w2,
                                     const float* __restrict__ b2, float* __restrict__ hidden,
                                     float* __restrict__ scale, int64_t C, int64_t R) {
  extern __shared__ double h[];   // R: the rounded hidden values, as the CPU's second product reads them
  const int64_t n = blockIdx.x;
  const float* m = pooled + n * C;
  for (int64_t r = threadIdx.x; r < R; r += blockDim.x) {
    double z = 0;
    for (int64_t c = 0; c < C; ++c) z += double(w1[r * C + c]) * double(m[c]);
    const float v = float(z) + (b1 ? b1[r] : 0.0f);
    const float hv = v > 0.0f ? v : 0.0f;
    hidden[n * R + r] = hv;
    h[r] = double(hv);
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    double z = 0;
    for (int64_t r = 0; r < R; ++r) z += double(w2[c * R + r]) * h[r];
    scale[n * C + c] = float(sigmoid_d(double(float(z)) + (b2 ? double(b2[c]) : 0.0)));
  }
}

__global__ void se_scale_kernel(const float* __restrict__ x, const float* __restrict__ scale, float* __restrict__ y,
                                int64_t total, int64_t S) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = x[i] * scale[i / S];
}

// One block per sample n: dz1 = (w2ᵀ·dz2)·[h > 0]; dm = w1ᵀ·dz1 when dm is wanted.
__global__ void se_fc_backward_kernel(const float* __restrict__ dz2, const float* __restrict__ hidden,
                                      const float* __restrict__ w1, const float* __restrict__ w2,
                                      float* __restrict__ dz1, float* __restrict__ dm, int64_t C, int64_t R) {
  extern __shared__ double d1[];   // R
  const int64_t n = blockIdx.x;
  for (int64_t r = threadIdx.x; r < R; r += blockDim.x) {
    double z = 0;
    for (int64_t c = 0; c < C; ++c) z += double(w2[c * R + r]) * double(dz2[n * C + c]);
    const float v = hidden[n * R + r] > 0.0f ? float(z) : 0.0f;
    dz1[n * R + r] = v;
    d1[r] = double(v);
  }
  if (!dm) return;
  __syncthreads();
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    double z = 0;
    for (int64_t r = 0; r < R; ++r) z += double(w1[r * C + c]) * d1[r];
    dm[n * C + c] = float(z);
  }
}

// One thread per element of [dw2 (C·R) | dw1 (R·C) | db2 (C) | db1 (R)], each summing over n in ascending order.
__global__ void se_weight_grad_kernel(const float* __restrict__ dz2, const float* __restrict__ dz1,
                                      const float* __restrict__ hidden, const float* __restrict__ pooled,
                                      float* dw1, float* db1, float* dw2, float* db2, int64_t N, int64_t C,
                                      int64_t R) {
  const int64_t CR = C * R, total = 2 * CR + C + R;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    double s = 0;
    if (e < CR) {
      if (!dw2) continue;
      const int64_t c = e / R, r = e % R;
      for (int64_t n = 0; n < N; ++n) s += double(dz2[n * C + c]) * double(hidden[n * R + r]);
      dw2[e] = float(s);
    } else if (e < 2 * CR) {
      if (!dw1) continue;
      const int64_t j = e - CR, r = j / C, c = j % C;
      for (int64_t n = 0; n < N; ++n) s += double(dz1[n * R + r]) * double(pooled[n * C + c]);
      dw1[j] = float(s);
    } else if (e < 2 * CR + C) {
      if (!db2) continue;
      const int64_t c = e - 2 * CR;
      for (int64_t n = 0; n < N; ++n) s += double(dz2[n * C + c]);
      db2[c] = float(s);
    } else {
      if (!db1) continue;
      const int64_t r = e - 2 * CR - C;
      for (int64_t n = 0; n < N; ++n) s += double(dz1[n * R + r]);
      db1[r] = float(s);
    }
  }
}

__global__ void se_dx_kernel(const float* __restrict__ dy, const float* __restrict__ scale,
                             const float* __restrict__ dm, float* __restrict__ dx, int64_t total, int64_t S) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = i / S;
    dx[i] = __fadd_rn(__fmul_rn(dy[i], scale[k]), float(double(dm[k]) / double(S)));
  }
}

__global__ void add_relu_forward_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                        float* __restrict__ y, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float z = __fadd_rn(a[i], b[i]);
    y[i] = z > 0.0f ? z : 0.0f;
  }
}

__global__ void add_relu_backward_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                         float* __restrict__ dx, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

unsigned row_blocks(int64_t rows) { return unsigned(rows < kMaxRowBlocks ? rows : kMaxRowBlocks); }

void check_hidden(const char* fn, int64_t R) {
  // The hidden vector lives in shared memory: 48 KiB of doubles without opting in to more.
  SPK_CHECK(R > 0 && R <= 6144, fn, ": hidden size ", R, " outside [1, 6144]");
}

}  // namespace

int64_t squeeze_excite_cuda_workspace(int64_t N, int64_t C, int64_t R) { return 2 * N * C + N * R; }

void squeeze_excite_forward_cuda(const float* x, const float* w1, const float* b1, const float* w2, const float* b2,
                                 float* y, float* pooled, float* hidden, float* scale, int64_t N, int64_t C,
                                 int64_t S, int64_t R, void* stream) {
  if (N == 0 || C == 0) return;
  check_hidden("squeeze_excite_forward_cuda", R);
  const cudaStream_t st = cudaStream_t(stream);
  se_rows_kernel<<<row_blocks(N * C), kThreads, 0, st>>>(x, nullptr, nullptr, pooled, N * C, S);
  SPK_KERNEL_LAUNCH_CHECK();
  se_fc_forward_kernel<<<unsigned(N), kThreads, sizeof(double) * size_t(R), st>>>(pooled, w1, b1, w2, b2, hidden,
                                                                                  scale, C, R);
  SPK_KERNEL_LAUNCH_CHECK();
  se_scale_kernel<<<blocks_for(N * C * S), kThreads, 0, st>>>(x, scale, y, N * C * S, S);
  SPK_KERNEL_LAUNCH_CHECK();
}

void squeeze_excite_backward_cuda(const float* x, const float* dy, const float* w1, const float* w2,
                                  const float* pooled, const float* hidden, const float* scale, float* dx, float* dw1,
                                  float* db1, float* dw2, float* db2, int64_t N, int64_t C, int64_t S, int64_t R,
                                  float* workspace, void* stream) {
  check_hidden("squeeze_excite_backward_cuda", R);
  const cudaStream_t st = cudaStream_t(stream);
  float* dz2 = workspace;
  float* dm = workspace + N * C;
  float* dz1 = workspace + 2 * N * C;
  if (N > 0 && C > 0) {
    se_rows_kernel<<<row_blocks(N * C), kThreads, 0, st>>>(x, dy, scale, dz2, N * C, S);
    SPK_KERNEL_LAUNCH_CHECK();
    se_fc_backward_kernel<<<unsigned(N), kThreads, sizeof(double) * size_t(R), st>>>(dz2, hidden, w1, w2, dz1,
                                                                                     dx ? dm : nullptr, C, R);
    SPK_KERNEL_LAUNCH_CHECK();
  }
  se_weight_grad_kernel<<<blocks_for(2 * C * R + C + R), kThreads, 0, st>>>(dz2, dz1, hidden, pooled, dw1, db1, dw2,
                                                                            db2, N, C, R);
  SPK_KERNEL_LAUNCH_CHECK();
  if (dx && N > 0 && C > 0) {
    se_dx_kernel<<<blocks_for(N * C * S), kThreads, 0, st>>>(dy, scale, dm, dx, N * C * S, S);
    SPK_KERNEL_LAUNCH_CHECK();
  }
}

void add_relu_forward_cuda(const float* a, const float* b, float* y, int64_t n, void* stream) {
  if (n == 0) return;
  add_relu_forward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(a, b, y, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void add_relu_backward_cuda(const float* y, const float* dy, float* dx, int64_t n, void* stream) {
  if (n == 0) return;
  add_relu_backward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(y, dy, dx, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
