// Multi-tensor optimiser steps (SGD, Adam, AdamW): every parameter of a step in one pass, instead of the
// dozen engine ops (each a launch and an allocation on a GPU) per parameter that engine/optim.cpp's reference
// path runs. Used by engine/optim.cpp when Optimizer::fused is on (the default).
//
// Bit-identical to that reference path, which the tests check on the CPU: each element goes through the same
// operations in the same order and precision as the engine ops it replaces (optim_math.h), every scalar is
// cast to T exactly where the ops cast it, and on a GPU no multiply-add is contracted into an FMA.
//
// A slot is one parameter: its value p, gradient g, state buffers (SGD: b0 = momentum_buffer; Adam: b0 =
// exp_avg, b1 = exp_avg_sq) and the per-parameter scalars (Adam's bias corrections depend on the parameter's
// own step count). `first` marks SGD's first step with momentum, where the buffer is set to the direction.
#pragma once
#include <cstddef>
#include <cstdint>

namespace spk {

template <class T> struct OptimSlot {
  T* p = nullptr;
  const T* g = nullptr;
  T* b0 = nullptr;
  T* b1 = nullptr;
  int64_t n = 0;
  double step_size = 0;     // Adam: lr / (1 - beta1^t)
  double inv_bc2_sqrt = 0;  // Adam: 1 / sqrt(1 - beta2^t)
  int first = 0;            // SGD: the momentum buffer is new
};

struct SgdArgs {
  double lr = 0, weight_decay = 0, momentum = 0, one_minus_dampening = 1;
  bool nesterov = false;
};

struct AdamArgs {
  double l2 = 0;            // Adam: g += l2·p
  bool decoupled = false;   // AdamW: p *= decay first
  double decay = 1;         // 1 - lr·wd
  double beta1 = 0.9, one_minus_beta1 = 0.1, beta2 = 0.999, one_minus_beta2 = 0.001, eps = 1e-8;
  int threads = 1;          // CPU: parameters split between the work pool's threads (per element: same bits)
};

template <class T> void sgd_step_cpu(const OptimSlot<T>* slots, int64_t count, const SgdArgs& a);
template <class T> void adam_step_cpu(const OptimSlot<T>* slots, int64_t count, const AdamArgs& a);

// CUDA (f32; kernels/optim/optim_cuda.cu): one launch for all slots. The slot table and a chunk table go to
// the device in one asynchronous copy into `scratch`, optim_cuda_scratch_bytes(slots, count) bytes of device
// memory the caller allocates and may free (stream-ordered) when the call returns.
size_t optim_cuda_scratch_bytes(const OptimSlot<float>* slots, int64_t count);
void sgd_step_cuda(const OptimSlot<float>* slots, int64_t count, const SgdArgs& a, void* scratch, void* stream);
void adam_step_cuda(const OptimSlot<float>* slots, int64_t count, const AdamArgs& a, void* scratch, void* stream);

}  // namespace spk
