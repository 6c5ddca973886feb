// CUDA elementwise kernels (kernels/elementwise/elementwise.h), f32, on the engine's stream.
// The scalar formulas come from elementwise_math.h, the same functions the CPU loops call, so the two
// devices cannot drift; only libm vs CUDA's libdevice differ (expf/tanhf/powf are within 1-4 ulp of
// correctly rounded on both), and division and sqrt are IEEE-exact here (no fast-math flags).
//
//   unary forward/backward: dense buffers, one templated kernel per op (the op switch folds away).
//       16-byte accesses (float4) when every pointer is 16-byte aligned — the caching allocator's
//       blocks are, views with an element offset may not be — with a scalar tail. The launcher checks
//       alignment and sizes the grid for n/4 float4s; beyond 8192 blocks the loops are grid-stride.
//   binary forward: operands are strided views broadcast to the output shape (stride 0 on broadcast
//       dims) and the output is dense. Dims that nest in both operands are merged first; then
//         - at most one dim left with unit/zero strides (dense op dense, dense op scalar, ...): a flat
//           kernel, vectorised when both operands are dense and aligned;
//         - otherwise one thread per output element decomposes its index, in 32-bit arithmetic when
//           all offsets fit. The layout travels by value as a kernel parameter.
#include <cstdint>

#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/common/strided.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/elementwise/elementwise_math.h"

namespace spk {

namespace {

using namespace cuda_launch;

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Grid for n elements, processed 4 per thread on the float4 path.
unsigned blocks_for_elems(int64_t n, bool vec) { return blocks_for(vec ? (n + 3) / 4 : n); }

// ---------------------------------------------------------------------------------------------- unary

// vec: every pointer is 16-byte aligned (checked by the launcher): float4 body, then a scalar tail.
template <UnaryOp OP>
__global__ void unary_forward_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, UnaryParams p,
                                     bool vec) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, step = int64_t(gridDim.x) * blockDim.x;
  int64_t done = 0;
  if (vec) {
    const int64_t n4 = n / 4;
    for (int64_t i = tid; i < n4; i += step) {
      float4 v = reinterpret_cast<const float4*>(x)[i];
      v.x = unary_f<float>(OP, v.x, p);
      v.y = unary_f<float>(OP, v.y, p);
      v.z = unary_f<float>(OP, v.z, p);
      v.w = unary_f<float>(OP, v.w, p);
      reinterpret_cast<float4*>(y)[i] = v;
    }
    done = n4 * 4;
  }
  for (int64_t i = done + tid; i < n; i += step) y[i] = unary_f<float>(OP, x[i], p);
}

template <UnaryOp OP>
__global__ void unary_backward_kernel(const float* __restrict__ x, const float* __restrict__ y,
                                      const float* __restrict__ dy, float* __restrict__ dx, int64_t n, UnaryParams p,
                                      bool vec) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, step = int64_t(gridDim.x) * blockDim.x;
  int64_t done = 0;
  if (vec) {
    const int64_t n4 = n / 4;
    for (int64_t i = tid; i < n4; i += step) {
      const float4 a = reinterpret_cast<const float4*>(x)[i];
      const float4 b = reinterpret_cast<const float4*>(y)[i];
      float4 g = reinterpret_cast<const float4*>(dy)[i];
      g.x *= unary_df<float>(OP, a.x, b.x, p);
      g.y *= unary_df<float>(OP, a.y, b.y, p);
      g.z *= unary_df<float>(OP, a.z, b.z, p);
      g.w *= unary_df<float>(OP, a.w, b.w, p);
      reinterpret_cast<float4*>(dx)[i] = g;
    }
    done = n4 * 4;
  }
  for (int64_t i = done + tid; i < n; i += step) dx[i] = dy[i] * unary_df<float>(OP, x[i], y[i], p);
}

// The launchers, as functors so one switch (with_unary_op) turns the runtime op into a template argument.
struct UnaryForwardLaunch {
  const float* x;
  float* y;
  int64_t n;
  UnaryParams p;
  cudaStream_t s;
  template <UnaryOp OP> void run() const {
    const bool vec = aligned16(x) && aligned16(y);
    unary_forward_kernel<OP><<<blocks_for_elems(n, vec), kThreads, 0, s>>>(x, y, n, p, vec);
    SPK_KERNEL_LAUNCH_CHECK();
  }
};

struct UnaryBackwardLaunch {
  const float *x, *y, *dy;
  float* dx;
  int64_t n;
  UnaryParams p;
  cudaStream_t s;
  template <UnaryOp OP> void run() const {
    const bool vec = aligned16(x) && aligned16(y) && aligned16(dy) && aligned16(dx);
    unary_backward_kernel<OP><<<blocks_for_elems(n, vec), kThreads, 0, s>>>(x, y, dy, dx, n, p, vec);
    SPK_KERNEL_LAUNCH_CHECK();
  }
};

template <class F>
void with_unary_op(UnaryOp op, const F& f) {
  switch (op) {
    case UnaryOp::neg: f.template run<UnaryOp::neg>(); break;
    case UnaryOp::exp: f.template run<UnaryOp::exp>(); break;
    case UnaryOp::log: f.template run<UnaryOp::log>(); break;
    case UnaryOp::sqrt: f.template run<UnaryOp::sqrt>(); break;
    case UnaryOp::abs: f.template run<UnaryOp::abs>(); break;
    case UnaryOp::relu: f.template run<UnaryOp::relu>(); break;
    case UnaryOp::leaky_relu: f.template run<UnaryOp::leaky_relu>(); break;
    case UnaryOp::sigmoid: f.template run<UnaryOp::sigmoid>(); break;
    case UnaryOp::tanh: f.template run<UnaryOp::tanh>(); break;
    case UnaryOp::add_scalar: f.template run<UnaryOp::add_scalar>(); break;
    case UnaryOp::mul_scalar: f.template run<UnaryOp::mul_scalar>(); break;
    case UnaryOp::pow_scalar: f.template run<UnaryOp::pow_scalar>(); break;
    case UnaryOp::clamp: f.template run<UnaryOp::clamp>(); break;
    default: SPK_FAIL("unary op ", int(op), " has no CUDA kernel");
  }
}

// ---------------------------------------------------------------------------------------------- binary

// Operands a (s0) and b (s1) as strides over the output shape (output dense, row-major).
using BinaryLayout = TwoViews;

// One dim (or none) left: out[i] = a[i·sa] op b[i·sb] with sa, sb in {0, 1}. vec: both dense and every
// pointer 16-byte aligned (checked by the launcher).
template <BinaryOp OP>
__global__ void binary_flat_kernel(const float* __restrict__ a, int64_t sa, const float* __restrict__ b, int64_t sb,
                                   float* __restrict__ out, int64_t n, bool vec) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, step = int64_t(gridDim.x) * blockDim.x;
  int64_t done = 0;
  if (vec) {
    const int64_t n4 = n / 4;
    for (int64_t i = tid; i < n4; i += step) {
      const float4 u = reinterpret_cast<const float4*>(a)[i];
      const float4 v = reinterpret_cast<const float4*>(b)[i];
      float4 r;
      r.x = binary_f<float>(OP, u.x, v.x);
      r.y = binary_f<float>(OP, u.y, v.y);
      r.z = binary_f<float>(OP, u.z, v.z);
      r.w = binary_f<float>(OP, u.w, v.w);
      reinterpret_cast<float4*>(out)[i] = r;
    }
    done = n4 * 4;
  }
  for (int64_t i = done + tid; i < n; i += step) out[i] = binary_f<float>(OP, a[i * sa], b[i * sb]);
}

// General broadcast/strided case.
template <BinaryOp OP, class I>
__global__ void binary_strided_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                      float* __restrict__ out, BinaryLayout L, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    I oa, ob;
    two_view_offsets(L, i, oa, ob);
    out[i] = binary_f<float>(OP, a[oa], b[ob]);
  }
}

template <BinaryOp OP>
void launch_binary(const float* a, const float* b, float* out, const BinaryLayout& L, int64_t n, cudaStream_t s) {
  const bool unit_a = L.ndim == 0 || L.s0[0] == 0 || L.s0[0] == 1, unit_b = L.ndim == 0 || L.s1[0] == 0 || L.s1[0] == 1;
  if (L.ndim <= 1 && unit_a && unit_b) {
    const int64_t sa = L.ndim == 0 ? 0 : L.s0[0], sb = L.ndim == 0 ? 0 : L.s1[0];
    const bool vec = sa == 1 && sb == 1 && aligned16(a) && aligned16(b) && aligned16(out);
    binary_flat_kernel<OP><<<blocks_for_elems(n, vec), kThreads, 0, s>>>(a, sa, b, sb, out, n, vec);
  } else {
    const int64_t lim = int64_t(1) << 31;
    const int64_t ma = max_offset(L, L.s0), mb = max_offset(L, L.s1);
    if (n < lim && ma >= 0 && mb >= 0 && ma < lim && mb < lim)
      binary_strided_kernel<OP, uint32_t><<<blocks_for(n), kThreads, 0, s>>>(a, b, out, L, n);
    else
      binary_strided_kernel<OP, int64_t><<<blocks_for(n), kThreads, 0, s>>>(a, b, out, L, n);
  }
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace

void unary_forward_cuda(UnaryOp op, const float* x, float* y, int64_t n, UnaryParams p, void* stream) {
  if (n <= 0) return;
  with_unary_op(op, UnaryForwardLaunch{x, y, n, p, cudaStream_t(stream)});
}

void unary_backward_cuda(UnaryOp op, const float* x, const float* y, const float* dy, float* dx, int64_t n,
                         UnaryParams p, void* stream) {
  if (n <= 0) return;
  with_unary_op(op, UnaryBackwardLaunch{x, y, dy, dx, n, p, cudaStream_t(stream)});
}

void binary_forward_cuda(BinaryOp op, const float* a, const int64_t* a_strides, const float* b,
                         const int64_t* b_strides, float* out, const int64_t* shape, int ndim, void* stream) {
  SPK_CHECK(ndim >= 0 && ndim <= kMaxDims, "binary_forward_cuda: ", ndim, " dims (at most ", kMaxDims, ")");
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  if (n == 0) return;
  auto s = cudaStream_t(stream);
  const BinaryLayout L = collapse(shape, a_strides, b_strides, ndim);
  switch (op) {
    case BinaryOp::add: launch_binary<BinaryOp::add>(a, b, out, L, n, s); break;
    case BinaryOp::sub: launch_binary<BinaryOp::sub>(a, b, out, L, n, s); break;
    case BinaryOp::mul: launch_binary<BinaryOp::mul>(a, b, out, L, n, s); break;
    case BinaryOp::div: launch_binary<BinaryOp::div>(a, b, out, L, n, s); break;
    default: SPK_FAIL("binary op ", int(op), " has no CUDA kernel");
  }
}

}  // namespace spk
