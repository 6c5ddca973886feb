// Autocast (--mixedprec): a scoped policy under which the GEMM and convolution ops read their operands rounded to
// a 16-bit float type (bf16 or IEEE fp16), accumulate in fp32 and write fp32. Weights, activations, gradients and
// the optimiser state stay fp32 (the master copies); only the operands of those products are cast, on the fly.
//
// The ops that follow the policy (docs/cuda/mixed_precision.md keeps the list):
//   matmul (and so linear, and every op built on matmul), conv1d, conv2d — forward and both backward products.
// Their backward runs under the mode their forward saw, whatever is current when backward() is called: the
// incoming gradient is rounded too, as torch.autocast's bf16/fp16 backward GEMMs read it. Every other op
// (batch norm, pooling, softmax, the losses and their fused kernels, fbank, the optimisers) runs in fp32, and
// f64 tensors (gradient checks) are never cast.
//
// Devices: CUDA matmul casts each operand to bf16/fp16 storage and calls cuBLAS GemmEx (16-bit inputs, fp32
// compute and output). CUDA conv rounds its operands in fp32 storage and runs the fp32 kernels (the same
// numerics as 16-bit inputs with fp32 accumulation, none of the speed: no native 16-bit conv kernel yet).
// CPU: both round in fp32 storage (round to nearest even, exactly the cast kernels' rule, kernels/common/half.h).
// matmul and fp16 conv then run the fp32 kernels, so the CPU emulates the casts bit for bit; bf16 conv runs
// oneDNN's bf16 kernels (AMX, AVX512-BF16) where the CPU has them, which take the rounded values exactly and sum
// in fp32 in their own order (kernels/conv/conv.h ConvCpuOptions::bf16): the same numerics up to summation
// order, several times faster. (A product of two bf16 or two fp16 values is exact in fp32.)
#pragma once
#include <cstdint>
#include <optional>

#include "engine/tensor.h"

namespace spk {

// The autocast type of this thread (bf16 or f16), or nullopt when autocast is off (the default).
std::optional<DType> autocast_type();

// Sets the autocast type of this thread for its lifetime (nullopt: off), restoring the previous one after.
class AutocastGuard {
 public:
  explicit AutocastGuard(std::optional<DType> type);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  std::optional<DType> previous_;
};

// The type an op with this f32/f64 operand casts to: autocast_type() for f32 tensors, nullopt otherwise.
std::optional<DType> autocast_type_for(const Tensor& operand);

// x rounded to the nearest value of `type` (bf16 or f16; ties to even), returned in fp32: NaN stays NaN, ±inf
// stay, f16 overflows to ±inf from 65520 on and goes subnormal below 2^-14.
float round_to_half(float x, DType type);
void round_to_half(const float* src, float* dst, int64_t n, DType type);   // src == dst allowed
// A dense f32 tensor holding t's values rounded to `type` (t f32, any device and layout; no autograd).
Tensor rounded_to_half(const Tensor& t, DType type);

}  // namespace spk
