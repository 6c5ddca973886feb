// Normalisation kernels with explicit backward (the closed-form batch-norm gradient).
//
// Batch norm on x seen as (N, C, S), S = product of the dims after C (1 for (N, C) input). Per channel c,
// over the M = N·S values x[:, c, :]:
//   batch_norm_stats:    mean[c], var[c] = biased variance (÷M), invstd[c] = 1/sqrt(var[c] + eps)
//   batch_norm_forward:  y = (x − mean[c])·invstd[c]·w[c] + b[c]     (w = 1, b = 0 when null)
//   batch_norm_backward: with x̂ = (x − mean)·invstd, g = dy:
//       dbias[c]   = Σ g,  dweight[c] = Σ g·x̂
//       batch statistics (training):   dx = w·invstd/M · (M·g − Σ g − x̂·Σ g·x̂)
//       fixed statistics (eval):       dx = w·invstd · g
// Instance norm (1-d) on x (N, C, T): each of the N·C rows normalised over its T values (biased variance);
// mean and invstd (N·C) are written by the forward for the backward, which is the batch-norm formula per
// row with M = T; dweight/dbias sum over n and t.
// Any of dx, dweight, dbias may be null (not needed). Outputs are written (=), sums accumulated in double.
#pragma once
#include <cstdint>

namespace spk {

template <class T> void batch_norm_stats_cpu(const T* x, T* mean, T* var, T* invstd, int64_t N, int64_t C, int64_t S,
                                             double eps);
template <class T> void batch_norm_forward_cpu(const T* x, const T* mean, const T* invstd, const T* weight,
                                               const T* bias, T* y, int64_t N, int64_t C, int64_t S);
template <class T> void batch_norm_backward_cpu(const T* x, const T* mean, const T* invstd, const T* weight,
                                                const T* dy, T* dx, T* dweight, T* dbias, int64_t N, int64_t C,
                                                int64_t S, bool batch_stats);

template <class T> void instance_norm_forward_cpu(const T* x, const T* weight, const T* bias, T* y, T* mean,
                                                  T* invstd, int64_t N, int64_t C, int64_t Tn, double eps);
template <class T> void instance_norm_backward_cpu(const T* x, const T* mean, const T* invstd, const T* weight,
                                                   const T* dy, T* dx, T* dweight, T* dbias, int64_t N, int64_t C,
                                                   int64_t Tn);

}  // namespace spk
