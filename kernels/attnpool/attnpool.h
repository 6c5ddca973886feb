// Fused attentive pooling (the ops sap_pool and attentive_stats_pool, engine/ops/attn_pool.cpp): the softmax over
// frames, the weighted mean and the weighted standard deviation in one pass each way, instead of ~10 elementwise
// ops and reductions, each a pass over memory and a tape node. The big products in front (voxceleb_trainer's
// sap_linear, ECAPA's attention convs) stay GEMMs outside.
//
// sap_pool (voxceleb_trainer ResNetSE34L / VGGVox SAP and ASP, models/ResNetSE34L.py): h_pre (B, L, H) is
// sap_linear(x) before its tanh, a (H) the attention vector, x (B, L, D). Per sequence b:
//   th = tanh(h_pre)      s_t = Σ_h th_th a_h      w = softmax_t(s)
//   mu = Σ_t w_t x_t      (with_std) m2 = Σ_t w_t x_t²,  v = m2 − mu²,  sg = sqrt(clamp(v, lo, hi))
//   y = mu (B, D), or [mu; sg] (B, 2D)
// The forward keeps th (B, L, H), w (B, L) and, with_std, v (B, D) for the backward, which given dy returns
//   dv = dsg·½/sg where lo ≤ v ≤ hi, else 0 (torch's clamp and sqrt)     dmu' = dmu − 2 mu dv     dm2 = dv
//   dx_t = w_t (dmu' + 2 dm2 x_t)      g_t = Σ_d x_t (dmu' + dm2 x_t)      ds_t = w_t (g_t − Σ_t' w_t' g_t')
//   dh_pre = ds_t a_h (1 − th²)        da_h = Σ_{b,t} ds_t th_th   (ds (B, L) is written too: a scratch buffer)
//
// attentive_stats_pool (ECAPA-TDNN, ResNetSE34V2, RawNet3, wespeaker ASTP/MHASTP): logits (B, Cw, L) with Cw = C
// (one softmax per channel) or Cw = 1 (one weight per frame shared by every channel), x (B, C, L):
//   w = softmax_t(logits)  mu = Σ_t w x,  v = Σ_t w x² − mu²,  sg = sqrt(clamp(v, lo, hi)),  y (B, C) or (B, 2C)
// The forward keeps w (B, Cw, L) and v (B, C); the backward's g_t is per channel (Cw = C) or summed over the
// channels (Cw = 1) before the softmax's backward; it writes dlogits (B, Cw, L) and dx (B, C, L).
//
// All outputs are written (=). CPU (attnpool_cpu.cpp): one template for f64 and f32. Sums over frames of per-frame
// scalars (the softmax's max and denominator, Σ w g) run in double; the per-element sums (mu, m2, s_t, g_t, da)
// accumulate in T, with several partial sums, so the f64 instantiation is the double reference and the f32 one
// vectorises (within f32 rounding of the composition of table ops, which sums in double). Parallel over
// sequences (and channel blocks); every sum has a fixed order, so the result does not depend on the thread count.
#pragma once
#include <cstdint>

namespace spk {

// The clamp of the variance: lo ≤ v ≤ hi keeps the gradient (torch.clamp's convention).
struct StatClamp {
  double lo = 0, hi = 0;
};

template <class T> void sap_pool_forward_cpu(const T* h_pre, const T* a, const T* x, T* y, T* th, T* w, T* v, int64_t B,
                                             int64_t L, int64_t H, int64_t D, bool with_std, StatClamp clamp,
                                             int threads);
template <class T> void sap_pool_backward_cpu(const T* th, const T* a, const T* x, const T* w, const T* y, const T* v,
                                              const T* dy, T* dh_pre, T* da, T* dx, T* ds, int64_t B, int64_t L,
                                              int64_t H, int64_t D, bool with_std, StatClamp clamp, int threads);

template <class T> void attentive_stats_forward_cpu(const T* logits, const T* x, T* y, T* w, T* v, int64_t B,
                                                    int64_t C, int64_t Cw, int64_t L, bool with_std,
                                                    StatClamp clamp, int threads);
template <class T> void attentive_stats_backward_cpu(const T* x, const T* w, const T* y, const T* v, const T* dy,
                                                     T* dlogits, T* dx, int64_t B, int64_t C, int64_t Cw, int64_t L,
                                                     bool with_std, StatClamp clamp, int threads);

// CUDA (f32, on the given stream; attnpool_cuda.cu): the same formulas, float sums in a fixed tree order (so
// within f32 rounding of the CPU, not bit-equal). sap_pool: one block per sequence; the backward keeps dmu', dm2
// in shared memory, so D is capped.
inline constexpr int64_t kSapPoolCudaMaxDim = 6144;
void sap_pool_forward_cuda(const float* h_pre, const float* a, const float* x, float* y, float* th, float* w,
                           float* v, int64_t B, int64_t L, int64_t H, int64_t D, bool with_std, StatClamp clamp,
                           void* stream);
void sap_pool_backward_cuda(const float* th, const float* a, const float* x, const float* w, const float* y,
                            const float* v, const float* dy, float* dh_pre, float* da, float* dx, float* ds,
                            int64_t B, int64_t L, int64_t H, int64_t D, bool with_std, StatClamp clamp, void* stream);
void attentive_stats_forward_cuda(const float* logits, const float* x, float* y, float* w, float* v, int64_t B,
                                  int64_t C, int64_t Cw, int64_t L, bool with_std, StatClamp clamp, void* stream);
void attentive_stats_backward_cuda(const float* x, const float* w, const float* y, const float* v, const float* dy,
                                   float* dlogits, float* dx, int64_t B, int64_t C, int64_t Cw, int64_t L,
                                   bool with_std, StatClamp clamp, void* stream);

}  // namespace spk
