// Dropout with a counter-based mask: element i of a dense tensor is dropped when
//   philox_uniform(offset + i, seed) < p        (kernels/common/philox.h)
// and kept ones are scaled by 1/(1 − p). The mask is a pure function of (seed, offset, i), so it is never
// stored: the backward regenerates it, and a CUDA kernel drawing the same counters produces the same mask
// as the CPU for any launch shape. The engine reserves n counters from its Rng per call.
//   dropout_forward:  y  = mask ⊙ x  / (1 − p)
//   dropout_backward: dx = mask ⊙ dy / (1 − p)     (the same map; dx written, =)
// 0 < p < 1 here; the engine handles p = 0 (identity) and p = 1 (zeros).
#pragma once
#include <cstdint>

namespace spk {

template <class T> void dropout_forward_cpu(const T* x, T* y, int64_t n, double p, uint64_t seed, uint64_t offset);
template <class T> void dropout_backward_cpu(const T* dy, T* dx, int64_t n, double p, uint64_t seed, uint64_t offset);

// CUDA (f32, on the given stream; kernels/dropout/dropout_cuda.cu): the same mask and values as the CPU.
void dropout_forward_cuda(const float* x, float* y, int64_t n, double p, uint64_t seed, uint64_t offset, void* stream);
void dropout_backward_cuda(const float* dy, float* dx, int64_t n, double p, uint64_t seed, uint64_t offset,
                           void* stream);

}  // namespace spk
