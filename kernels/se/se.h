// The squeeze-excitation block and the residual tail of the SE ResNets, fused (the ops squeeze_excite and add_relu).
//
// squeeze_excite: voxceleb_trainer's SELayer (models/ResNetBlocks.py) and ECAPA-TDNN's SE module (TaoRuijie
// model.py SEModule without its BN) on x seen as (N, C, S), S = H·W or T:
//   m[n,c]  = (1/S)·Σ_s x[n,c,s]                              pooled   (N, C)
//   h[n,r]  = relu(Σ_c w1[r,c]·m[n,c] + b1[r])                hidden   (N, R), w1 (R, C)
//   s[n,c]  = sigmoid(Σ_r w2[c,r]·h[n,r] + b2[c])             scale    (N, C), w2 (C, R)
//   y       = x[n,c,s]·s[n,c]
// Backward, with g = dy:
//   dz2[n,c] = (Σ_s g·x)·s(1 − s)        db2 = Σ_n dz2        dw2 = dz2ᵀ·h
//   dz1[n,r] = (Σ_c w2[c,r]·dz2[n,c])·[h > 0]                  db1 = Σ_n dz1        dw1 = dz1ᵀ·m
//   dx       = g·s[n,c] + (Σ_r w1[r,c]·dz1[n,r]) / S
// The forward writes pooled, hidden and scale for the backward: only (N, C)/(N, R) vectors are kept, never a copy
// of x. The CPU runs the two small products through gemm_cpu (OpenBLAS, as the composed Linear layers did) and
// touches the (N, C, S) tensors in one pass each: the mean, the scale; the backward's Σ g·x, then dx. Row sums
// go in blocks of T lanes (vectorisable without reassociation flags) carried across blocks in double.
// b1, b2 may be null (no bias); dx, dw1, db1, dw2, db2 may be null (not needed).
//
// add_relu: y = max(a + b, 0) elementwise on equal shapes (the residual join of SEBasicBlock / BasicBlock);
// backward da = db = dy·[y > 0]. The sum is rounded to T before the ReLU, so y equals relu(a + b) bit for bit.
#pragma once
#include <cstdint>

namespace spk {

// CPU: `threads` (the engine's cpu_threads()) splits the passes over x between the work pool's threads, by (n, c)
// rows or element ranges; each row's sum runs on one thread in one order, so results do not depend on it.
template <class T> void squeeze_excite_forward_cpu(const T* x, const T* w1, const T* b1, const T* w2, const T* b2,
                                                   T* y, T* pooled, T* hidden, T* scale, int64_t N, int64_t C,
                                                   int64_t S, int64_t R, int threads = 1);
template <class T> void squeeze_excite_backward_cpu(const T* x, const T* dy, const T* w1, const T* w2,
                                                    const T* pooled, const T* hidden, const T* scale, T* dx, T* dw1,
                                                    T* db1, T* dw2, T* db2, int64_t N, int64_t C, int64_t S,
                                                    int64_t R, int threads = 1);

template <class T> void add_relu_forward_cpu(const T* a, const T* b, T* y, int64_t n, int threads = 1);
template <class T> void add_relu_backward_cpu(const T* y, const T* dy, T* dx, int64_t n, int threads = 1);

// CUDA (f32, on the given stream; kernels/se/se_cuda.cu): the same formulas, every sum in double, no atomics
// (deterministic). One block per (n, c) row for the pooled sums, one block per sample for the two small products,
// one thread per weight-gradient element (n ascending). The backward needs a device workspace of
// squeeze_excite_cuda_workspace(N, C, R) floats for dz2, dz1 and the pooled gradient.
int64_t squeeze_excite_cuda_workspace(int64_t N, int64_t C, int64_t R);
void squeeze_excite_forward_cuda(const float* x, const float* w1, const float* b1, const float* w2, const float* b2,
                                 float* y, float* pooled, float* hidden, float* scale, int64_t N, int64_t C,
                                 int64_t S, int64_t R, void* stream);
void squeeze_excite_backward_cuda(const float* x, const float* dy, const float* w1, const float* w2,
                                  const float* pooled, const float* hidden, const float* scale, float* dx, float* dw1,
                                  float* db1, float* dw2, float* db2, int64_t N, int64_t C, int64_t S, int64_t R,
                                  float* workspace, void* stream);

void add_relu_forward_cuda(const float* a, const float* b, float* y, int64_t n, void* stream);
void add_relu_backward_cuda(const float* y, const float* dy, float* dx, int64_t n, void* stream);

}  // namespace spk
