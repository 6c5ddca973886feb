// CUDA reductions along one axis (kernels/reduce/reduce.h): a dense (outer, K, inner) -> (outer, inner).
//
// Deterministic: every output is reduced by a fixed set of threads in a fixed order that depends only on
// the shape (no atomics), so a run reproduces bit for bit. Sums accumulate in double, as the CPU does,
// so the two agree to the last bit in almost every element. max keeps (value, index) pairs and combines
// them with a total order — NaN above everything (the first NaN wins), then larger value, then smaller
// index — which is commutative and associative, so it gives the CPU's "first argmax" whatever the order.
//
// One reduction policy (sum or max) runs under four schedules, picked from the shape:
//   serial        one thread per output, looping over K. Few elements per output (K <= 32), or enough
//                 outputs to fill the GPU when inner > 1 (reads are coalesced across i).
//   warp per row  inner == 1, 32 < K <= 4096: a warp strides a contiguous row, then a shuffle tree.
//   block per row inner == 1, K > 4096: 256 threads stride the row; warp trees, then warp 0 combines.
//   column split  inner > 1 but few outputs: a (32 × ky) block covers 32 adjacent columns, the ky rows of
//                 threads take interleaved k, and shared memory combines the ky partials in order.
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/reduce/reduce.h"

namespace spk {

namespace {

using namespace cuda_launch;


// ---------------------------------------------------------------------------------------------- policies

struct SumPolicy {
  using Acc = double;
  __device__ static Acc identity() { return 0.0; }
  __device__ static Acc take(Acc a, float v, int64_t) { return a + double(v); }
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
  __device__ static Acc shfl_down(Acc a, int offset) { return __shfl_down_sync(0xffffffffu, a, offset); }
  __device__ static void store(Acc a, float* y, int64_t*, int64_t j) { y[j] = float(a); }
};

struct MaxAcc {
  float v;
  int64_t k;
};

struct MaxPolicy {
  using Acc = MaxAcc;
  // Loses to every real element (a real -inf ties on value and wins on the smaller index).
  __device__ static Acc identity() { return {-INFINITY, INT64_MAX}; }
  __device__ static Acc combine(Acc a, Acc b) {
    const bool an = isnan(a.v), bn = isnan(b.v);
    if (an || bn) return (an && bn) ? (a.k < b.k ? a : b) : (an ? a : b);
    if (a.v != b.v) return a.v > b.v ? a : b;
    return a.k < b.k ? a : b;
  }
  __device__ static Acc take(Acc a, float v, int64_t k) { return combine(a, {v, k}); }
  __device__ static Acc shfl_down(Acc a, int offset) {
    return {__shfl_down_sync(0xffffffffu, a.v, offset), __shfl_down_sync(0xffffffffu, a.k, offset)};
  }
  __device__ static void store(Acc a, float* y, int64_t* idx, int64_t j) {
    y[j] = a.v;
    idx[j] = a.k;
  }
};

// Lane 0 ends with the combination of the warp's 32 values, in a fixed tree order.
template <class P>
__device__ typename P::Acc warp_reduce(typename P::Acc a) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) a = P::combine(a, P::shfl_down(a, offset));
  return a;
}

// ---------------------------------------------------------------------------------------------- schedules

template <class P>
__global__ void reduce_serial_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t* __restrict__ idx,
                                     int64_t outer, int64_t K, int64_t inner) {
  const int64_t n = outer * inner, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t o = j / inner, i = j - o * inner;
    const float* p = x + o * K * inner + i;
    typename P::Acc a = P::identity();
    for (int64_t k = 0; k < K; ++k) a = P::take(a, p[k * inner], k);
    P::store(a, y, idx, j);
  }
}

// inner == 1. blockDim.x == 256: 8 warps, one row each.
template <class P>
__global__ void reduce_warp_rows_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t* __restrict__ idx,
                                        int64_t rows, int64_t K) {
  const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
  for (int64_t r = int64_t(blockIdx.x) * warps + threadIdx.x / 32; r < rows; r += int64_t(gridDim.x) * warps) {
    const float* p = x + r * K;
    typename P::Acc a = P::identity();
    for (int64_t k = lane; k < K; k += 32) a = P::take(a, p[k], k);
    a = warp_reduce<P>(a);
    if (lane == 0) P::store(a, y, idx, r);
  }
}

// inner == 1. blockDim.x == kThreads, one row per block iteration (the row loop is uniform per block, so
// the barriers are safe).
template <class P>
__global__ void reduce_block_rows_kernel(const float* __restrict__ x, float* __restrict__ y,
                                         int64_t* __restrict__ idx, int64_t rows, int64_t K) {
  __shared__ typename P::Acc partial[kThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* p = x + r * K;
    typename P::Acc a = P::identity();
    for (int64_t k = threadIdx.x; k < K; k += kThreads) a = P::take(a, p[k], k);
    a = warp_reduce<P>(a);
    if (lane == 0) partial[warp] = a;
    __syncthreads();
    if (warp == 0) {
      a = lane < kThreads / 32 ? partial[lane] : P::identity();
      a = warp_reduce<P>(a);
      if (lane == 0) P::store(a, y, idx, r);
    }
    __syncthreads();   // partial[] is rewritten by the next row
  }
}

// inner > 1, few outputs. blockDim = (32, ky <= 32); blockIdx.x covers 32 columns, blockIdx.y strides
// outer. The launch bound keeps registers within what a 1024-thread block may use.
template <class P>
__global__ void __launch_bounds__(1024)
    reduce_columns_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t* __restrict__ idx, int64_t outer,
                          int64_t K, int64_t inner) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  auto* partial = reinterpret_cast<typename P::Acc*>(smem_raw);   // [ky][32]
  const int tx = threadIdx.x, ty = threadIdx.y, ky = blockDim.y;
  const int64_t i = int64_t(blockIdx.x) * 32 + tx;
  for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    typename P::Acc a = P::identity();
    if (i < inner) {
      const float* p = x + o * K * inner + i;
      for (int64_t k = ty; k < K; k += ky) a = P::take(a, p[k * inner], k);
    }
    partial[ty * 32 + tx] = a;
    __syncthreads();
    if (ty == 0 && i < inner) {
      for (int t = 1; t < ky; ++t) a = P::combine(a, partial[t * 32 + tx]);
      P::store(a, y, idx, o * inner + i);
    }
    __syncthreads();
  }
}

template <class P>
void reduce_axis(const float* x, float* y, int64_t* idx, int64_t outer, int64_t K, int64_t inner, cudaStream_t s) {
  const int64_t n_out = outer * inner;
  if (n_out == 0) return;
  if (inner == 1 && K > 32) {
    if (K <= 4096) {
      reduce_warp_rows_kernel<P><<<blocks_for(outer * 32), kThreads, 0, s>>>(x, y, idx, outer, K);
    } else {
      const unsigned blocks = unsigned(outer < kMaxBlocks ? outer : kMaxBlocks);
      reduce_block_rows_kernel<P><<<blocks, kThreads, 0, s>>>(x, y, idx, outer, K);
    }
  } else if (inner > 1 && K > 32 && n_out < 16384) {
    // Too few outputs for one thread each to fill the GPU: split K across ky threads per column.
    const int ky = inner <= 32 ? 32 : 8;
    const dim3 block(32, unsigned(ky));
    const int64_t gy = outer < 65535 ? outer : 65535;
    const dim3 grid(unsigned((inner + 31) / 32), unsigned(gy));
    const size_t smem = sizeof(typename P::Acc) * 32 * size_t(ky);
    reduce_columns_kernel<P><<<grid, block, smem, s>>>(x, y, idx, outer, K, inner);
  } else {
    reduce_serial_kernel<P><<<blocks_for(n_out), kThreads, 0, s>>>(x, y, idx, outer, K, inner);
  }
  SPK_KERNEL_LAUNCH_CHECK();
}

// dx[o, k, i] = (k == idx[o, i]) ? dy[o, i] : 0 — a gather, so every element is written once, no memset
// and no scatter race.
__global__ void max_backward_kernel(const float* __restrict__ dy, const int64_t* __restrict__ idx,
                                    float* __restrict__ dx, int64_t K, int64_t inner, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t i = j % inner, t = j / inner, k = t % K, o = t / K;
    const int64_t src = o * inner + i;
    dx[j] = idx[src] == k ? dy[src] : 0.0f;
  }
}

// One block of kThreads: each thread counts its strided share of the rows, then a shared-memory tree adds
// the counts (integers: any order gives the same sum), and thread 0 writes the host formula's double.
__global__ void prediction_accuracy_kernel(const int64_t* __restrict__ pred, const int64_t* __restrict__ labels,
                                           int64_t n, double* __restrict__ out) {
  __shared__ long long hits[kThreads];
  long long h = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) h += pred[i] == (labels ? labels[i] : i);
  hits[threadIdx.x] = h;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) hits[threadIdx.x] += hits[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = n == 0 ? 0.0 : 100.0 * double(hits[0]) / double(n);
}

}  // namespace

void prediction_accuracy_cuda(const int64_t* pred, const int64_t* labels, int64_t n, double* out, void* stream) {
  prediction_accuracy_kernel<<<1, kThreads, 0, cudaStream_t(stream)>>>(pred, labels, n, out);
  SPK_KERNEL_LAUNCH_CHECK();
}

void sum_axis_cuda(const float* x, float* y, int64_t outer, int64_t K, int64_t inner, void* stream) {
  reduce_axis<SumPolicy>(x, y, nullptr, outer, K, inner, cudaStream_t(stream));
}

void max_axis_cuda(const float* x, float* y, int64_t* idx, int64_t outer, int64_t K, int64_t inner, void* stream) {
  SPK_CHECK(K > 0, "max_axis_cuda: empty reduction axis (outer ", outer, ", K 0, inner ", inner, ")");
  reduce_axis<MaxPolicy>(x, y, idx, outer, K, inner, cudaStream_t(stream));
}

void max_axis_backward_cuda(const float* dy, const int64_t* idx, float* dx, int64_t outer, int64_t K, int64_t inner,
                            void* stream) {
  const int64_t n = outer * K * inner;
  if (n == 0) return;
  max_backward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(dy, idx, dx, K, inner, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
