#include <algorithm>

#include "kernels/common/strided.h"
#include "kernels/common/work_pool.h"
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

namespace {

// Calls f(begin, end) over [0, n) in chunks, one per thread (multiples of 64 elements, so each chunk starts
// on a cache line of an aligned buffer), or once on the calling thread for small n.
template <class F>
void split_range(int64_t n, int threads, F&& f) {
  if (threads <= 1 || n < kCpuSplitMin) { f(int64_t(0), n); return; }
  const int64_t chunk = (n / threads + 63) / 64 * 64;
  parallel_units((n + chunk - 1) / chunk, threads, [&](int64_t u) { f(u * chunk, std::min(n, (u + 1) * chunk)); });
}

}  // namespace

template <class T>
void unary_forward_cpu(UnaryOp op, const T* x, T* y, int64_t n, UnaryParams p, int threads) {
  with_unary_op(op, [&]<UnaryOp OP>() {
    split_range(n, threads, [&](int64_t b, int64_t e) { unary_forward_loop<OP>(x + b, y + b, e - b, p); });
  });
}

template <class T>
void unary_backward_cpu(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n, UnaryParams p,
                        int threads) {
  with_unary_op(op, [&]<UnaryOp OP>() {
    split_range(n, threads, [&](int64_t b, int64_t e) {
      unary_backward_loop<OP>(x + b, y + b, dy + b, dx + b, e - b, p);
    });
  });
}

template <class T>
void binary_forward_serial(BinaryOp op, const T* a, const int64_t* as, const T* b, const int64_t* bs, T* out,
                           const int64_t* os, const int64_t* shape, int ndim) {
  for_each_inner(ndim, shape, as, bs, os, [&](int64_t oa, int64_t ob, int64_t oo, int64_t n, int64_t sa, int64_t sb, int64_t) {
    const T* pa = a + oa; const T* pb = b + ob; T* po = out + oo;
    if (sa == 1 && sb == 1) for (int64_t i = 0; i < n; ++i) po[i] = binary_f(op, pa[i], pb[i]);
    else if (sa == 1 && sb == 0) { T v = *pb; for (int64_t i = 0; i < n; ++i) po[i] = binary_f(op, pa[i], v); }
    else for (int64_t i = 0; i < n; ++i) po[i] = binary_f(op, pa[i * sa], pb[i * sb]);
  });
}

// Large outputs are split along their first dim of extent > 1 (the batch, or the channels of one image), each
// thread running the serial loop over its slab.
template <class T>
void binary_forward_cpu(BinaryOp op, const T* a, const int64_t* as, const T* b, const int64_t* bs, T* out,
                        const int64_t* shape, int ndim, int threads) {
  int64_t os[kMaxDims];
  int64_t acc = 1;
  for (int d = ndim - 1; d >= 0; --d) { os[d] = acc; acc *= shape[d]; }
  int split = 0;
  while (split < ndim && shape[split] == 1) ++split;
  if (threads <= 1 || acc < kCpuSplitMin || split >= ndim - 1) {
    binary_forward_serial(op, a, as, b, bs, out, os, shape, ndim);
    return;
  }
  const int64_t extent = shape[split], parts = std::min<int64_t>(extent, threads);
  parallel_units(parts, threads, [&](int64_t u) {
    const int64_t i0 = u * extent / parts, i1 = (u + 1) * extent / parts;
    int64_t sub[kMaxDims];
    std::copy(shape, shape + ndim, sub);
    sub[split] = i1 - i0;
    binary_forward_serial(op, a + i0 * as[split], as, b + i0 * bs[split], bs, out + i0 * os[split], os, sub, ndim);
  });
}

#define SPK_INSTANTIATE(T)                                                                                   \
  template void unary_forward_cpu<T>(UnaryOp, const T*, T*, int64_t, UnaryParams, int);                     \
  template void unary_backward_cpu<T>(UnaryOp, const T*, const T*, const T*, T*, int64_t, UnaryParams, int); \
  template void binary_forward_cpu<T>(BinaryOp, const T*, const int64_t*, const T*, const int64_t*, T*,     \
                                      const int64_t*, int, int);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
