// Elementwise kernels.
//   unary:  y = f(x) on dense buffers; backward dx = dy * f'(x) (given x and y = f(x)); dx is written (=).
//   binary: out = a (op) b with broadcasting expressed as strides (0 on broadcast dims); out dense.
// The scalar ops (add/mul/pow by a scalar, clamp) are unary ops with parameters a, b.
#pragma once
#include <cstdint>

namespace spk {

enum class UnaryOp : uint8_t {
  neg, exp, log, sqrt, abs, relu, leaky_relu, sigmoid, tanh,
  add_scalar,   // x + a
  mul_scalar,   // x * a
  pow_scalar,   // x ^ a
  clamp,        // min(max(x, a), b)
};
struct UnaryParams { double a = 0, b = 0; };

enum class BinaryOp : uint8_t { add, sub, mul, div };

// CPU: `threads` (the engine's cpu_threads()) splits large tensors between the work pool's threads
// (kernels/common/work_pool.h); every element is computed by the same formula on whichever thread, so the
// result does not depend on the count.
template <class T> void unary_forward_cpu(UnaryOp op, const T* x, T* y, int64_t n, UnaryParams p, int threads = 1);
template <class T> void unary_backward_cpu(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n,
                                           UnaryParams p, int threads = 1);
// shape/strides have ndim entries; a_strides/b_strides are the operands' strides broadcast to shape.
template <class T> void binary_forward_cpu(BinaryOp op, const T* a, const int64_t* a_strides, const T* b,
                                           const int64_t* b_strides, T* out, const int64_t* shape, int ndim,
                                           int threads = 1);
// The elements below which a CPU elementwise or reduction kernel stays on the calling thread: waking a pool
// thread costs a few microseconds, about what a pass over 32K floats takes. (The last ResNetSE34L stage of a
// 6-s utterance is 48K elements: it splits.)
constexpr int64_t kCpuSplitMin = int64_t(1) << 15;

// CUDA (f32), on the given stream.
void unary_forward_cuda(UnaryOp op, const float* x, float* y, int64_t n, UnaryParams p, void* stream);
void unary_backward_cuda(UnaryOp op, const float* x, const float* y, const float* dy, float* dx, int64_t n,
                         UnaryParams p, void* stream);
void binary_forward_cuda(BinaryOp op, const float* a, const int64_t* a_strides, const float* b,
                         const int64_t* b_strides, float* out, const int64_t* shape, int ndim, void* stream);

}  // namespace spk
