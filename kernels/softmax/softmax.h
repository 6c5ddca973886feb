// Softmax family on a dense tensor seen as (outer, C, inner), normalising over C.
//   softmax_forward:      y = softmax(x) or log_softmax(x) (log = true), max-subtracted for stability
//   softmax_backward:     softmax:     dx = y ⊙ (dy − Σ_c dy ⊙ y)
//                         log_softmax: dx = dy − exp(y) ⊙ Σ_c dy          (dx written, =)
// Cross-entropy with integer labels on logits (N, C), fused:
//   cross_entropy_forward:  loss[n] = logsumexp(x[n]) − x[n, label[n]]; lse[n] saved for backward
//   cross_entropy_backward: dx[n, c] = dloss[n] · (exp(x[n, c] − lse[n]) − [c = label[n]])
// Labels are checked to lie in [0, C) by the engine before these run.
#pragma once
#include <cstdint>

namespace spk {

template <class T> void softmax_forward_cpu(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log);
template <class T> void softmax_backward_cpu(const T* y, const T* dy, T* dx, int64_t outer, int64_t C, int64_t inner,
                                             bool log);
template <class T> void cross_entropy_forward_cpu(const T* logits, const int64_t* labels, T* loss, T* lse, int64_t N,
                                                  int64_t C);
template <class T> void cross_entropy_backward_cpu(const T* logits, const int64_t* labels, const T* lse,
                                                   const T* dloss, T* dlogits, int64_t N, int64_t C);

void softmax_forward_cuda(const float* x, float* y, int64_t outer, int64_t C, int64_t inner, bool log, void* stream);
void softmax_backward_cuda(const float* y, const float* dy, float* dx, int64_t outer, int64_t C, int64_t inner,
                           bool log, void* stream);
void cross_entropy_forward_cuda(const float* logits, const int64_t* labels, float* loss, float* lse, int64_t N,
                                int64_t C, void* stream);
void cross_entropy_backward_cuda(const float* logits, const int64_t* labels, const float* lse, const float* dloss,
                                 float* dlogits, int64_t N, int64_t C, void* stream);

}  // namespace spk
