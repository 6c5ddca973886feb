// CUDA index_select and gather (kernels/index/index.h), f32 values, i64 indices already range-checked by the
// engine. Forwards are one thread per output element. Backwards gather instead of scatter-adding: each dx
// element sums the output gradients that read it, in ascending order of their position — the order in which
// the CPU reference adds them — so results are deterministic and equal to the CPU's bit for bit, with no
// atomics and every dx element written once (=).
//   index_select backward: the engine passes the inverse of the index as CSR (rows[k] = the l with
//     index[l] = k, ascending), built here on the device by index_inverse_cuda (issue 17: it was built on the
//     host, after a device-to-host read of the index, on every call).
//   index_select forward on a GPU reads its index where it is, unchecked by the host: an index outside
//     [0, K) gives a NaN output row (never a read out of bounds), and the inverse leaves it out, so its
//     gradient goes nowhere — as the label kernels of the fused losses do.
//   gather backward: dx[c] visits the index_shape[dim] candidates j that share c's other coordinates and
//     keeps those with index[j] == c[dim]. Cost numel(x)·index_shape[dim]: fine for our uses (picking one
//     logit per row, index_shape[dim] = 1), quadratic for a long gather along dim.
#include <cstdint>

#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/index/index.h"

namespace spk {

namespace {

using namespace cuda_launch;

__global__ void index_select_forward_kernel(const float* __restrict__ x, const int64_t* __restrict__ index,
                                            float* __restrict__ out, int64_t K, int64_t inner, int64_t L, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t i = j % inner, t = j / inner, l = t % L, o = t / L;
    const int64_t k = index[l];
    out[j] = k >= 0 && k < K ? x[(o * K + k) * inner + i] : __int_as_float(0x7fc00000);   // NaN: a bad index
  }
}

// The inverse of index (L) over [0, K) as CSR, in three launches and without atomics, so it is the same on
// every run: (1) one thread per k counts its l into row_start[k + 1]; (2) one block turns the counts into
// offsets; (3) one thread per k writes its l in ascending order. Steps 1 and 3 read the whole index per
// thread, but every thread of a warp reads the same index[l] at once (one broadcast load), so a warp costs L
// iterations: a few microseconds for the batch-sized indices of the losses. Values outside [0, K) are left out.
__global__ void index_count_kernel(const int64_t* __restrict__ index, int64_t L, int64_t K,
                                   int64_t* __restrict__ row_start) {
  const int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k == 0) row_start[0] = 0;
  if (k >= K) return;
  int64_t c = 0;
  for (int64_t l = 0; l < L; ++l) c += index[l] == k;
  row_start[k + 1] = c;
}

// Inclusive prefix sum of row_start[1 .. K] in one block: each thread adds up a contiguous chunk, thread 0
// scans the chunk totals (at most blockDim.x of them), then each thread rewrites its chunk as running sums.
__global__ void index_offsets_kernel(int64_t K, int64_t* __restrict__ row_start) {
  __shared__ int64_t total[kThreads];
  const int64_t chunk = (K + blockDim.x - 1) / blockDim.x;
  const int64_t lo = 1 + int64_t(threadIdx.x) * chunk, hi = lo + chunk < K + 1 ? lo + chunk : K + 1;
  int64_t t = 0;
  for (int64_t k = lo; k < hi; ++k) t += row_start[k];
  total[threadIdx.x] = t;
  __syncthreads();
  if (threadIdx.x == 0) {
    int64_t run = 0;
    for (unsigned i = 0; i < blockDim.x; ++i) {
      const int64_t v = total[i];
      total[i] = run;   // exclusive: what the chunks before this one hold
      run += v;
    }
  }
  __syncthreads();
  int64_t run = total[threadIdx.x];
  for (int64_t k = lo; k < hi; ++k) {
    run += row_start[k];
    row_start[k] = run;
  }
}

__global__ void index_fill_kernel(const int64_t* __restrict__ index, int64_t L, int64_t K,
                                  const int64_t* __restrict__ row_start, int64_t* __restrict__ rows) {
  const int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= K) return;
  int64_t at = row_start[k];
  for (int64_t l = 0; l < L; ++l)
    if (index[l] == k) rows[at++] = l;
}

__global__ void index_select_backward_kernel(const float* __restrict__ dout, const int64_t* __restrict__ row_start,
                                             const int64_t* __restrict__ rows, float* __restrict__ dx, int64_t K,
                                             int64_t inner, int64_t L, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    const int64_t i = j % inner, t = j / inner, k = t % K, o = t / K;
    float acc = 0.0f;
    for (int64_t p = row_start[k]; p < row_start[k + 1]; ++p) acc += dout[(o * L + rows[p]) * inner + i];
    dx[j] = acc;
  }
}

struct GatherGeom {
  int ndim = 0, dim = 0;
  int64_t index_shape[kMaxDims] = {};
  int64_t index_strides[kMaxDims] = {};   // dense, of index_shape
  int64_t x_shape[kMaxDims] = {};
  int64_t x_strides[kMaxDims] = {};       // forward: x's (any layout); backward: dense, of x_shape
};

__global__ void gather_forward_kernel(GatherGeom G, const float* __restrict__ x, const int64_t* __restrict__ index,
                                      float* __restrict__ out, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += step) {
    int64_t rem = j, off = 0;
    for (int d = G.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % G.index_shape[d];
      rem /= G.index_shape[d];
      if (d != G.dim) off += c * G.x_strides[d];
    }
    out[j] = x[off + index[j] * G.x_strides[G.dim]];
  }
}

__global__ void gather_backward_kernel(GatherGeom G, const float* __restrict__ dout, const int64_t* __restrict__ index,
                                       float* __restrict__ dx, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    int64_t rem = e, base = 0, k = 0;
    bool inside = true;   // c[d] < index_shape[d] for every d != dim: some j may read this element
    for (int d = G.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % G.x_shape[d];
      rem /= G.x_shape[d];
      if (d == G.dim) k = c;
      else if (c < G.index_shape[d]) base += c * G.index_strides[d];
      else inside = false;
    }
    float acc = 0.0f;
    if (inside) {
      const int64_t m_n = G.index_shape[G.dim], m_s = G.index_strides[G.dim];
      for (int64_t m = 0; m < m_n; ++m) {
        const int64_t j = base + m * m_s;
        if (index[j] == k) acc += dout[j];
      }
    }
    dx[e] = acc;
  }
}

GatherGeom gather_geom(const int64_t* x_shape, const int64_t* x_strides, const int64_t* index_shape, int ndim,
                       int dim) {
  GatherGeom G;
  G.ndim = ndim;
  G.dim = dim;
  int64_t acc = 1, xacc = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    G.index_shape[d] = index_shape[d];
    G.index_strides[d] = acc;
    acc *= index_shape[d];
    G.x_shape[d] = x_shape ? x_shape[d] : 0;
    G.x_strides[d] = x_strides ? x_strides[d] : xacc;   // dense strides of x_shape when none are given
    xacc *= x_shape ? x_shape[d] : 1;
  }
  return G;
}

}  // namespace

void index_select_forward_cuda(const float* x, const int64_t* index, float* out, int64_t outer, int64_t K,
                               int64_t inner, int64_t L, void* stream) {
  const int64_t n = outer * L * inner;
  if (n == 0) return;
  index_select_forward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(x, index, out, K, inner, L, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void index_inverse_cuda(const int64_t* index, int64_t L, int64_t K, int64_t* row_start, int64_t* rows,
                        void* stream) {
  const cudaStream_t s = cudaStream_t(stream);
  index_count_kernel<<<blocks_for(K + 1), kThreads, 0, s>>>(index, L, K, row_start);
  SPK_KERNEL_LAUNCH_CHECK();
  if (K == 0) return;
  index_offsets_kernel<<<1, kThreads, 0, s>>>(K, row_start);
  SPK_KERNEL_LAUNCH_CHECK();
  if (L == 0) return;
  index_fill_kernel<<<blocks_for(K), kThreads, 0, s>>>(index, L, K, row_start, rows);
  SPK_KERNEL_LAUNCH_CHECK();
}

void index_select_backward_cuda(const float* dout, const int64_t* row_start, const int64_t* rows, float* dx,
                                int64_t outer, int64_t K, int64_t inner, int64_t L, void* stream) {
  const int64_t n = outer * K * inner;
  if (n == 0) return;
  index_select_backward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(dout, row_start, rows, dx, K,
                                                                                     inner, L, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void gather_forward_cuda(const float* x, const int64_t* x_strides, const int64_t* index, float* out,
                         const int64_t* index_shape, int ndim, int dim, void* stream) {
  SPK_CHECK(ndim >= 1 && ndim <= kMaxDims && dim >= 0 && dim < ndim, "gather_forward_cuda: bad rank ", ndim,
            " or dim ", dim);
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= index_shape[d];
  if (n == 0) return;
  const GatherGeom G = gather_geom(nullptr, x_strides, index_shape, ndim, dim);
  gather_forward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(G, x, index, out, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void gather_backward_cuda(const float* dout, const int64_t* index, float* dx, const int64_t* x_shape,
                          const int64_t* index_shape, int ndim, int dim, void* stream) {
  SPK_CHECK(ndim >= 1 && ndim <= kMaxDims && dim >= 0 && dim < ndim, "gather_backward_cuda: bad rank ", ndim,
            " or dim ", dim);
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= x_shape[d];
  if (n == 0) return;
  const GatherGeom G = gather_geom(x_shape, nullptr, index_shape, ndim, dim);
  gather_backward_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(G, dout, index, dx, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
