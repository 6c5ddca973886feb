// The recurrence of torch.nn.GRU (one layer, one direction, batch_first), given the input projections, so the
// heavy x·W_ihᵀ part stays one GEMM outside the time loop (engine/ops/gru.cpp composes the two).
//
// gi (B, L, 3H) = x W_ihᵀ + b_ih with torch's gate order (r, z, n) along the last dim; w_hh (3H, H) and b_hh (3H)
// are torch's weight_hh_l0 / bias_hh_l0 (b_hh may be null: bias=False); h0 (B, H). Per step t, h_p = h_{t−1}:
//   gh = W_hh h_p + b_hh
//   r  = σ(gi_r + gh_r)      z = σ(gi_z + gh_z)      n = tanh(gi_n + r ⊙ gh_n)     (b_hn inside r ⊙ (...): torch)
//   h_t = (1 − z) ⊙ n + z ⊙ h_p
// gru_forward writes h (B, L, H) and gates (B, L, 4H) = (r, z, n, gh_n) per step for the backward.
// gru_backward (through time), given dh (B, L, H) = ∂loss/∂h_t for every t, with the carry δ_L = 0:
//   d   = dh_t + δ_{t+1}
//   a_n = d ⊙ (1 − z) ⊙ (1 − n²)      a_r = a_n ⊙ gh_n ⊙ r(1 − r)      a_z = d ⊙ (h_p − n) ⊙ z(1 − z)
//   dgi_t = (a_r, a_z, a_n)           dgh_t = (a_r, a_z, a_n ⊙ r)
//   δ_t = d ⊙ z + W_hhᵀ dgh_t         dh0 = δ_0
//   dw_hh = Σ_{b,t} dgh_t h_pᵀ        db_hh = Σ_{b,t} dgh_t
// Every dot product and sum in double; the stored h, gates and dgi are rounded to T, and the later steps and the
// weight gradients read the rounded values (so the CUDA kernels can follow the same numbers). dh0, db_hh may be
// null (not needed). Deterministic for any thread count: sequences are independent in time, and the weight
// gradients are summed over (b, t) in a fixed order per output element.
#pragma once
#include <cstdint>

namespace spk {

template <class T> void gru_forward_cpu(const T* gi, const T* h0, const T* w_hh, const T* b_hh, T* h, T* gates,
                                        int64_t B, int64_t L, int64_t H, int threads);
template <class T> void gru_backward_cpu(const T* h0, const T* w_hh, const T* h, const T* gates, const T* dh, T* dgi,
                                         T* dh0, T* dw_hh, T* db_hh, int64_t B, int64_t L, int64_t H, int threads);

// CUDA (f32, on the given stream; kernels/gru/gru_cuda.cu): the same formulas and summation orders. One block per
// sequence walks the time steps with its step's state in shared memory (3H + H doubles), so H is capped.
inline constexpr int64_t kGruCudaMaxHidden = 1024;
void gru_forward_cuda(const float* gi, const float* h0, const float* w_hh, const float* b_hh, float* h, float* gates,
                      int64_t B, int64_t L, int64_t H, void* stream);
void gru_backward_cuda(const float* h0, const float* w_hh, const float* h, const float* gates, const float* dh,
                       float* dgi, float* dh0, float* dw_hh, float* db_hh, int64_t B, int64_t L, int64_t H,
                       void* stream);

}  // namespace spk
