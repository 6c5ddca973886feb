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
// Batch norm + ReLU (fused; the op batch_norm_relu): y = max(batch_norm_forward(x), 0) with the ReLU applied
// to the f32/f64-rounded normalised value, so y equals relu(batch_norm(x)) bit for bit. The backward is the
// batch-norm backward with g = dy where y > 0 and 0 elsewhere (y > 0 exactly where the normalised value is),
// so one pass replaces the ReLU's mask-multiply and the normalisation's two passes.
// ReLU + batch norm (fused; the op relu_batch_norm, for blocks that run conv → ReLU → BN such as voxceleb_trainer's
// SEBasicBlock): y = batch_norm(r), r = max(x, 0), with r never written. The forward makes the statistics of r
// (when batch_stats; two-pass as batch_norm_stats, into mean/var/invstd) and y per channel in one job; eval reads
// mean/invstd (var unused, may be null). The backward is the batch-norm backward with x̂ = (r − mean)·invstd and
// dx = that gradient where x > 0, 0 elsewhere (ReLU's one-sided derivative at 0, as PyTorch). Every value and
// sum is taken in the order batch_norm's kernels take them over r, so y, the statistics and every gradient equal
// batch_norm(relu(x)) bit for bit.
// Instance norm (1-d) on x (N, C, T): each of the N·C rows normalised over its T values (biased variance);
// mean and invstd (N·C) are written by the forward for the backward, which is the batch-norm formula per
// row with M = T; dweight/dbias sum over n and t.
// Layer norm (torch.nn.LayerNorm over the last dim) on x seen as (R, D): each of the R rows normalised over its
// D values (biased variance), y = x̂·w[d] + b[d]; mean and invstd (R) are written for the backward. With
// ĝ = g·w[d]: dx = invstd/D · (D·ĝ − Σĝ − x̂·Σĝ·x̂) per row; dweight[d] = Σ_rows g·x̂, dbias[d] = Σ_rows g.
// Any of dx, dweight, dbias may be null (not needed). Outputs are written (=), sums accumulated in double.
#pragma once
#include <cstdint>

namespace spk {

// CPU batch norm (batch_norm, batch_norm_relu, relu_batch_norm): `threads` (the engine's cpu_threads()) splits
// groups of channels between the work pool's threads for large tensors (kCpuSplitMin elements); each channel's
// sums run on one thread in one order, so results do not depend on the count.
template <class T> void batch_norm_stats_cpu(const T* x, T* mean, T* var, T* invstd, int64_t N, int64_t C, int64_t S,
                                             double eps, int threads = 1);
template <class T> void batch_norm_forward_cpu(const T* x, const T* mean, const T* invstd, const T* weight,
                                               const T* bias, T* y, int64_t N, int64_t C, int64_t S,
                                               int threads = 1);
template <class T> void batch_norm_backward_cpu(const T* x, const T* mean, const T* invstd, const T* weight,
                                                const T* dy, T* dx, T* dweight, T* dbias, int64_t N, int64_t C,
                                                int64_t S, bool batch_stats, int threads = 1);

template <class T> void batch_norm_relu_forward_cpu(const T* x, const T* mean, const T* invstd, const T* weight,
                                                    const T* bias, T* y, int64_t N, int64_t C, int64_t S,
                                                    int threads = 1);
template <class T> void batch_norm_relu_backward_cpu(const T* x, const T* y, const T* mean, const T* invstd,
                                                     const T* weight, const T* dy, T* dx, T* dweight, T* dbias,
                                                     int64_t N, int64_t C, int64_t S, bool batch_stats,
                                                     int threads = 1);

template <class T> void relu_batch_norm_forward_cpu(const T* x, T* mean, T* var, T* invstd, const T* weight,
                                                    const T* bias, T* y, int64_t N, int64_t C, int64_t S, double eps,
                                                    bool batch_stats, int threads = 1);
template <class T> void relu_batch_norm_backward_cpu(const T* x, const T* mean, const T* invstd, const T* weight,
                                                     const T* dy, T* dx, T* dweight, T* dbias, int64_t N, int64_t C,
                                                     int64_t S, bool batch_stats, int threads = 1);

template <class T> void instance_norm_forward_cpu(const T* x, const T* weight, const T* bias, T* y, T* mean,
                                                  T* invstd, int64_t N, int64_t C, int64_t Tn, double eps);
template <class T> void instance_norm_backward_cpu(const T* x, const T* mean, const T* invstd, const T* weight,
                                                   const T* dy, T* dx, T* dweight, T* dbias, int64_t N, int64_t C,
                                                   int64_t Tn);

template <class T> void layer_norm_forward_cpu(const T* x, const T* weight, const T* bias, T* y, T* mean, T* invstd,
                                               int64_t R, int64_t D, double eps);
template <class T> void layer_norm_backward_cpu(const T* x, const T* mean, const T* invstd, const T* weight,
                                                const T* dy, T* dx, T* dweight, T* dbias, int64_t R, int64_t D);

// Running statistics of a training batch norm, in one pass over the C channels (kernels/norm/bn_running_cpu.cpp)
// instead of the seven engine ops (each a launch on a GPU) it replaced, with their rounding step for step:
//   running_mean = running_mean·R(1 − momentum) + R(mean)·R(momentum)
//   running_var  = running_var·R(1 − momentum) + (R(var)·R(M/(M − 1)))·R(momentum)
// each product and sum rounded to R, the running statistics' dtype (which may differ from the input's).
template <class T, class R> void batch_norm_update_running_cpu(const T* mean, const T* var, R* running_mean,
                                                               R* running_var, int64_t C, double momentum,
                                                               double unbias);

// CUDA (f32, on the given stream; kernels/norm/norm_cuda.cu). Same formulas, sums in double, no atomics
// (deterministic). The reductions need a device workspace of doubles, allocated by the caller:
//   batch_norm_stats/backward, batch_norm_relu_backward,
//   relu_batch_norm_forward/backward:                   batch_norm_cuda_workspace(N, C, S) doubles
//   instance_norm_backward:                              instance_norm_cuda_workspace(N, C) doubles
int64_t batch_norm_cuda_workspace(int64_t N, int64_t C, int64_t S);
int64_t instance_norm_cuda_workspace(int64_t N, int64_t C);
// The running statistics batch_norm_stats_cuda updates in its finalising kernel (the formulas of
// batch_norm_update_running_cpu, rounded alike); mean = var = null: none.
struct BnRunningUpdate {
  float* mean = nullptr;
  float* var = nullptr;
  double momentum = 0;
};
void batch_norm_stats_cuda(const float* x, float* mean, float* var, float* invstd, int64_t N, int64_t C, int64_t S,
                           double eps, double* workspace, void* stream, const BnRunningUpdate& running = {});
// num_batches_tracked += 1 on the device: one tiny launch instead of a read back to the host.
void batch_norm_count_cuda(int64_t* counter, void* stream);
void batch_norm_forward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                             const float* bias, float* y, int64_t N, int64_t C, int64_t S, void* stream);
void batch_norm_backward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                              const float* dy, float* dx, float* dweight, float* dbias, int64_t N, int64_t C,
                              int64_t S, bool batch_stats, double* workspace, void* stream);
void batch_norm_relu_forward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                                  const float* bias, float* y, int64_t N, int64_t C, int64_t S, void* stream);
void batch_norm_relu_backward_cuda(const float* x, const float* y, const float* mean, const float* invstd,
                                   const float* weight, const float* dy, float* dx, float* dweight, float* dbias,
                                   int64_t N, int64_t C, int64_t S, bool batch_stats, double* workspace,
                                   void* stream);
// relu_batch_norm: batch_stats: the statistics of max(x, 0) into mean/var/invstd (and the running statistics,
// as batch_norm_stats_cuda), then y; else y from the given mean/invstd (var unused).
void relu_batch_norm_forward_cuda(const float* x, float* mean, float* var, float* invstd, const float* weight,
                                  const float* bias, float* y, int64_t N, int64_t C, int64_t S, double eps,
                                  bool batch_stats, double* workspace, void* stream,
                                  const BnRunningUpdate& running = {});
void relu_batch_norm_backward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                                   const float* dy, float* dx, float* dweight, float* dbias, int64_t N, int64_t C,
                                   int64_t S, bool batch_stats, double* workspace, void* stream);
void instance_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* y, float* mean,
                                float* invstd, int64_t N, int64_t C, int64_t Tn, double eps, void* stream);
void instance_norm_backward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                                 const float* dy, float* dx, float* dweight, float* dbias, int64_t N, int64_t C,
                                 int64_t Tn, double* workspace, void* stream);
// layer norm: one block per row; the backward's dweight/dbias one thread per column, rows in ascending order
// (the CPU's accumulation order). No workspace.
void layer_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* y, float* mean,
                             float* invstd, int64_t R, int64_t D, double eps, void* stream);
void layer_norm_backward_cuda(const float* x, const float* mean, const float* invstd, const float* weight,
                              const float* dy, float* dx, float* dweight, float* dbias, int64_t R, int64_t D,
                              void* stream);

}  // namespace spk
