#include "kernels/common/strided.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/elementwise/elementwise_math.h"

namespace spk {

// The op is a template argument here, so each loop is compiled for one formula and vectorises (with the op a
// runtime value inside the loop, GCC kept the switch per element: relu forward and backward were 15 % of a
// ResNetSE34L CPU step). Same formulas (elementwise_math.h), so results are bitwise those of the plain loop.
template <UnaryOp OP, class T>
void unary_forward_loop(const T* x, T* y, int64_t n, UnaryParams p) {
  for (int64_t i = 0; i < n; ++i) y[i] = unary_f(OP, x[i], p);
}

template <UnaryOp OP, class T>
void unary_backward_loop(const T* x, const T* y, const T* dy, T* dx, int64_t n, UnaryParams p) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * unary_df(OP, x[i], y[i], p);
}

// Calls f.template operator()<OP>() for the runtime op.
template <class F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
#define SPK_UNARY_CASE(name) \
    case UnaryOp::name: f.template operator()<UnaryOp::name>(); return;
    SPK_UNARY_CASE(neg) SPK_UNARY_CASE(exp) SPK_UNARY_CASE(log) SPK_UNARY_CASE(sqrt) SPK_UNARY_CASE(abs)
    SPK_UNARY_CASE(relu) SPK_UNARY_CASE(leaky_relu) SPK_UNARY_CASE(sigmoid) SPK_UNARY_CASE(tanh)
    SPK_UNARY_CASE(add_scalar) SPK_UNARY_CASE(mul_scalar) SPK_UNARY_CASE(pow_scalar) SPK_UNARY_CASE(clamp)
#undef SPK_UNARY_CASE
  }
}

template <class T>
void unary_forward_cpu(UnaryOp op, const T* x, T* y, int64_t n, UnaryParams p) {
  with_unary_op(op, [&]<UnaryOp OP>() { unary_forward_loop<OP>(x, y, n, p); });
}

template <class T>
void unary_backward_cpu(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n, UnaryParams p) {
  with_unary_op(op, [&]<UnaryOp OP>() { unary_backward_loop<OP>(x, y, dy, dx, n, p); });
}

template <class T>
void binary_forward_cpu(BinaryOp op, const T* a, const int64_t* as, const T* b, const int64_t* bs, T* out,
                        const int64_t* shape, int ndim) {
  int64_t os[kMaxDims];
  int64_t acc = 1;
  for (int d = ndim - 1; d >= 0; --d) { os[d] = acc; acc *= shape[d]; }
  for_each_inner(ndim, shape, as, bs, os, [&](int64_t oa, int64_t ob, int64_t oo, int64_t n, int64_t sa, int64_t sb, int64_t) {
    const T* pa = a + oa; const T* pb = b + ob; T* po = out + oo;
    if (sa == 1 && sb == 1) for (int64_t i = 0; i < n; ++i) po[i] = binary_f(op, pa[i], pb[i]);
    else if (sa == 1 && sb == 0) { T v = *pb; for (int64_t i = 0; i < n; ++i) po[i] = binary_f(op, pa[i], v); }
    else for (int64_t i = 0; i < n; ++i) po[i] = binary_f(op, pa[i * sa], pb[i * sb]);
  });
}

#define SPK_INSTANTIATE(T)                                                                                   \
  template void unary_forward_cpu<T>(UnaryOp, const T*, T*, int64_t, UnaryParams);                          \
  template void unary_backward_cpu<T>(UnaryOp, const T*, const T*, const T*, T*, int64_t, UnaryParams);      \
  template void binary_forward_cpu<T>(BinaryOp, const T*, const int64_t*, const T*, const int64_t*, T*,     \
                                      const int64_t*, int);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
