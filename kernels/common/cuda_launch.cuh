// Launch helpers shared by the CUDA kernels of kernels/*/: block counts for grid-stride loops, and the
// "two strided views of one shape" layout that copies and binary ops pass to their kernels by value.
#pragma once
#include <cstdint>

#include "kernels/common/strided.h"   // kMaxDims

namespace spk::cuda_launch {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 8192;   // grid-stride loops beyond this: ~8 waves of a 132-SM H100

inline unsigned blocks_for(int64_t work, int threads = kThreads) {
  int64_t b = (work + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}

// Two strided views (s0, s1) over one shape; ~200 bytes, passed to kernels by value.
struct TwoViews {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t s0[kMaxDims] = {};
  int64_t s1[kMaxDims] = {};
};

// Drop size-1 dims and merge an outer dim into the next inner one wherever both views nest there
// (outer stride == inner stride · inner size): offset a·s_o + b·s_i becomes (a·n_i + b)·s_i. Broadcast runs
// (stride 0 in consecutive dims) merge too: 0 == 0·n.
inline TwoViews collapse(const int64_t* shape, const int64_t* s0, const int64_t* s1, int ndim) {
  TwoViews L;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    const int j = L.ndim - 1;
    if (j >= 0 && L.s0[j] == s0[d] * shape[d] && L.s1[j] == s1[d] * shape[d]) {
      L.shape[j] *= shape[d];
      L.s0[j] = s0[d];
      L.s1[j] = s1[d];
      continue;
    }
    L.shape[L.ndim] = shape[d];
    L.s0[L.ndim] = s0[d];
    L.s1[L.ndim] = s1[d];
    ++L.ndim;
  }
  return L;
}

// Largest element offset a view reaches, or -1 if a stride is negative (never made by our views); decides
// whether 32-bit indexing is safe.
inline int64_t max_offset(const TwoViews& L, const int64_t* strides) {
  int64_t m = 0;
  for (int d = 0; d < L.ndim; ++d) {
    if (strides[d] < 0) return -1;
    m += (L.shape[d] - 1) * strides[d];
  }
  return m;
}

#if defined(__CUDACC__)
// Offsets (o0, o1) in the two views of the row-major linear index i. I is the index type: uint32_t when every
// offset fits (see max_offset), else int64_t. Dims are walked with compile-time indices (unrolled, guarded by
// ndim) so the layout stays in parameter space instead of spilling to local memory.
template <class I>
__device__ __forceinline__ void two_view_offsets(const TwoViews& L, int64_t i, I& o0, I& o1) {
  I rem = I(i);
  o0 = 0;
  o1 = 0;
#pragma unroll
  for (int d = kMaxDims - 1; d >= 0; --d) {
    if (d < L.ndim) {
      const I size = I(L.shape[d]);
      const I c = rem % size;
      rem /= size;
      o0 += c * I(L.s0[d]);
      o1 += c * I(L.s1[d]);
    }
  }
}

// Σ over the block (blockDim.x == kThreads), returned to every thread. Fixed order, so results do not depend on
// timing: a shuffle tree per warp, then thread 0 adds the warp sums in warp order. scratch holds
// kThreads / 32 + 1 doubles; a call may follow another on the same scratch (it syncs before writing).
__device__ __forceinline__ double block_allsum(double v, double* scratch) {
  constexpr int warps = kThreads / 32;
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();   // every thread has read the previous call's result
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    double t = scratch[0];
    for (int w = 1; w < warps; ++w) t += scratch[w];
    scratch[warps] = t;
  }
  __syncthreads();
  return scratch[warps];
}
#endif

}  // namespace spk::cuda_launch
