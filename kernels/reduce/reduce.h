// Reductions along one axis of a dense tensor seen as (outer, K, inner) -> (outer, inner).
//   sum:  y[o, i] = Σ_k x[o, k, i]                      (accumulated in double on the CPU)
//   max:  y[o, i] = max_k x[o, k, i], idx = first argmax (NaN counts as maximal, as PyTorch)
//   max_backward: dx = 0 everywhere but dx[o, idx[o, i], i] = dy[o, i]   (dx written, =)
// And one whole-tensor count, the training accuracy (losses/metrics.h), so that it stays on the device:
//   prediction_accuracy: *out = 100 · #{i : pred[i] == labels[i]} / n   (labels null: the targets 0..n-1;
//                        n == 0: 0), in double with exactly this expression on both devices, so the figure
//                        is the host formula's to the last bit. out is one double.
#pragma once
#include <cstdint>

namespace spk {

// threads: the work pool splits the outputs (never one output's sum), so the result does not depend on it.
template <class T> void sum_axis_cpu(const T* x, T* y, int64_t outer, int64_t K, int64_t inner, int threads = 1);
template <class T> void max_axis_cpu(const T* x, T* y, int64_t* idx, int64_t outer, int64_t K, int64_t inner);
template <class T> void max_axis_backward_cpu(const T* dy, const int64_t* idx, T* dx, int64_t outer, int64_t K,
                                              int64_t inner);
void prediction_accuracy_cpu(const int64_t* pred, const int64_t* labels, int64_t n, double* out);

void sum_axis_cuda(const float* x, float* y, int64_t outer, int64_t K, int64_t inner, void* stream);
void max_axis_cuda(const float* x, float* y, int64_t* idx, int64_t outer, int64_t K, int64_t inner, void* stream);
void max_axis_backward_cuda(const float* dy, const int64_t* idx, float* dx, int64_t outer, int64_t K, int64_t inner,
                            void* stream);
// One block; the hits are an integer sum (exact in any order), so no atomics and no nondeterminism.
void prediction_accuracy_cuda(const int64_t* pred, const int64_t* labels, int64_t n, double* out, void* stream);

}  // namespace spk
