#include "kernels/common/strided.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/elementwise/elementwise_math.h"

namespace spk {

template <class T>
void unary_forward_cpu(UnaryOp op, const T* x, T* y, int64_t n, UnaryParams p) {
  // The switch sits inside the loop; the compiler unswitches it, and these ops are memory-bound anyway.
  for (int64_t i = 0; i < n; ++i) y[i] = unary_f(op, x[i], p);
}

template <class T>
void unary_backward_cpu(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n, UnaryParams p) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * unary_df(op, x[i], y[i], p);
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
