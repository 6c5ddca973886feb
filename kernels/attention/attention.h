// The attention core of multi-head attention: scaled dot-product attention per head, as the middle of
// torch.nn.functional.multi_head_attention_forward (torch 1.13, no mask, no dropout).
//
// q (B, Lq, E), k and v (B, Lk, E), dense; E = H·Dh, head h owning columns [h·Dh, (h+1)·Dh) of each row (torch
// reshapes (L, B, E) to (L, B·H, Dh) the same way). With s = 1/sqrt(Dh), per batch b and head h:
//   attention_forward:  S = s·Q_h K_hᵀ (Lq × Lk), P = softmax over each row of S, O_h = P V_h
//                       out (B, Lq, E) gets O_h in head h's columns; probs (B, H, Lq, Lk) keeps P for the backward.
//   attention_backward: with G = dout_h:  dP = G V_hᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),
//                       dq_h = s·dS K_h,  dk_h = s·dSᵀ Q_h,  dv_h = Pᵀ G.
// Any of dq, dk, dv may be null (not needed). Every dot product and sum in double, outputs written (=).
#pragma once
#include <cstdint>

namespace spk {

template <class T> void attention_forward_cpu(const T* q, const T* k, const T* v, T* out, T* probs, int64_t B,
                                              int64_t H, int64_t Lq, int64_t Lk, int64_t Dh);
template <class T> void attention_backward_cpu(const T* q, const T* k, const T* v, const T* probs, const T* dout,
                                               T* dq, T* dk, T* dv, int64_t B, int64_t H, int64_t Lq, int64_t Lk,
                                               int64_t Dh);

// CUDA (f32, on the given stream; kernels/attention/attention_cuda.cu). Same formulas, sums in double in a
// fixed order, no atomics (deterministic). The backward needs attention_cuda_workspace(B, H, Lq, Lk) doubles
// of device workspace (dS in double), allocated by the caller.
int64_t attention_cuda_workspace(int64_t B, int64_t H, int64_t Lq, int64_t Lk);
void attention_forward_cuda(const float* q, const float* k, const float* v, float* out, float* probs, int64_t B,
                            int64_t H, int64_t Lq, int64_t Lk, int64_t Dh, void* stream);
void attention_backward_cuda(const float* q, const float* k, const float* v, const float* probs, const float* dout,
                             float* dq, float* dk, float* dv, int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t Dh,
                             double* workspace, void* stream);

}  // namespace spk
