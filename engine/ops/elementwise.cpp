// Elementwise ops: binary with broadcasting, unary, scalar. Backward of the binary ops is composed from
// table ops (so it runs on any device); unary ops use the fused unary_backward kernel.
#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/common/strided.h"
#include "kernels/elementwise/elementwise.h"

namespace spk {

// NumPy broadcasting of two shapes; throws naming the op.
static Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    SPK_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
              " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Strides of t viewed with the broadcast shape `to` (0 on broadcast dims).
static Shape broadcast_strides(const Tensor& t, const Shape& to) {
  Shape st(to.size(), 0);
  size_t off = to.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i) st[off + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return st;
}

static void check_pair(OpId id, const Tensor& a, const Tensor& b) {
  const char* op = op_info(id).name;
  SPK_CHECK(a.defined() && b.defined(), op, ": undefined input");
  SPK_CHECK(a.device() == b.device(), op, ": inputs on different devices: ", a.str(), " and ", b.str());
  SPK_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch: ", a.str(), " and ", b.str());
  check_op_device(id, a.device());
}

static Tensor binary(OpId id, BinaryOp bop, const Tensor& a, const Tensor& b) {
  check_pair(id, a, b);
  const char* op = op_info(id).name;
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  SPK_CHECK(shape.size() <= size_t(kMaxDims), op, ": too many dims");
  Shape as = broadcast_strides(a, shape), bs = broadcast_strides(b, shape);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  const int nd = int(shape.size());
  dispatch(op, a,
      [&]<class T>() {
        binary_forward_cpu<T>(bop, a.data<T>(), as.data(), b.data<T>(), bs.data(), out.data<T>(), shape.data(), nd,
                              cpu_threads());
      },
      [&](void* stream) {
        binary_forward_cuda(bop, a.data<float>(), as.data(), b.data<float>(), bs.data(), out.data<float>(),
                            shape.data(), nd, stream);
      });
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary(OpId::add, BinaryOp::add, a, b);
  Shape sa = a.shape(), sb = b.shape();
  return record("add", out, {a, b}, [sa, sb](const Tensor& g) -> std::vector<Tensor> {
    return {sum_to_shape(g, sa), sum_to_shape(g, sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary(OpId::sub, BinaryOp::sub, a, b);
  Shape sa = a.shape(), sb = b.shape();
  return record("sub", out, {a, b}, [sa, sb](const Tensor& g) -> std::vector<Tensor> {
    return {sum_to_shape(g, sa), sum_to_shape(neg(g), sb)};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary(OpId::mul, BinaryOp::mul, a, b);
  bool ga = needs_grad({a}), gb = needs_grad({b});
  Tensor ad = a.detach(), bd = b.detach();
  return record("mul", out, {a, b}, [ad, bd, ga, gb](const Tensor& g) -> std::vector<Tensor> {
    return {ga ? sum_to_shape(mul(g, bd), ad.shape()) : Tensor(), gb ? sum_to_shape(mul(g, ad), bd.shape()) : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary(OpId::div, BinaryOp::div, a, b);
  bool ga = needs_grad({a}), gb = needs_grad({b});
  Tensor ad = a.detach(), bd = b.detach(), od = out.detach();
  return record("div", out, {a, b}, [ad, bd, od, ga, gb](const Tensor& g) -> std::vector<Tensor> {
    Tensor gdb = ga || gb ? div(g, bd) : Tensor();
    // d(a/b)/db = -(a/b)/b: reuse the output instead of forming b².
    return {ga ? sum_to_shape(gdb, ad.shape()) : Tensor(), gb ? sum_to_shape(neg(mul(gdb, od)), bd.shape()) : Tensor()};
  });
}

// ---- unary and scalar ops ----

static Tensor unary(OpId id, UnaryOp uop, const Tensor& x, UnaryParams p) {
  const char* op = op_info(id).name;
  SPK_CHECK(x.defined(), op, ": undefined input");
  check_op_device(id, x.device());
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch(op, x,
      [&]<class T>() { unary_forward_cpu<T>(uop, xc.data<T>(), y.data<T>(), x.numel(), p, cpu_threads()); },
      [&](void* stream) { unary_forward_cuda(uop, xc.data<float>(), y.data<float>(), x.numel(), p, stream); });
  Tensor xd = xc.detach(), yd = y.detach();
  return record(op, y, {x}, [id, uop, xd, yd, p](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(xd.shape(), xd.dtype(), xd.device());
    dispatch(op_info(id).name, xd,
        [&]<class T>() {
          unary_backward_cpu<T>(uop, xd.data<T>(), yd.data<T>(), gc.data<T>(), dx.data<T>(), xd.numel(), p,
                                cpu_threads());
        },
        [&](void* stream) {
          unary_backward_cuda(uop, xd.data<float>(), yd.data<float>(), gc.data<float>(), dx.data<float>(),
                              xd.numel(), p, stream);
        });
    return {dx};
  });
}

Tensor neg(const Tensor& x) { return unary(OpId::neg, UnaryOp::neg, x, {}); }
Tensor exp(const Tensor& x) { return unary(OpId::exp, UnaryOp::exp, x, {}); }
Tensor log(const Tensor& x) { return unary(OpId::log, UnaryOp::log, x, {}); }
Tensor sqrt(const Tensor& x) { return unary(OpId::sqrt, UnaryOp::sqrt, x, {}); }
Tensor abs(const Tensor& x) { return unary(OpId::abs, UnaryOp::abs, x, {}); }
Tensor relu(const Tensor& x) { return unary(OpId::relu, UnaryOp::relu, x, {}); }
Tensor leaky_relu(const Tensor& x, double slope) { return unary(OpId::leaky_relu, UnaryOp::leaky_relu, x, {slope, 0}); }
Tensor sigmoid(const Tensor& x) { return unary(OpId::sigmoid, UnaryOp::sigmoid, x, {}); }
Tensor tanh(const Tensor& x) { return unary(OpId::tanh, UnaryOp::tanh, x, {}); }
Tensor add_scalar(const Tensor& x, double s) { return unary(OpId::add_scalar, UnaryOp::add_scalar, x, {s, 0}); }
Tensor mul_scalar(const Tensor& x, double s) { return unary(OpId::mul_scalar, UnaryOp::mul_scalar, x, {s, 0}); }
Tensor pow_scalar(const Tensor& x, double p) { return unary(OpId::pow_scalar, UnaryOp::pow_scalar, x, {p, 0}); }
Tensor clamp(const Tensor& x, double lo, double hi) {
  SPK_CHECK(lo <= hi, "clamp: lo ", lo, " > hi ", hi);
  return unary(OpId::clamp, UnaryOp::clamp, x, {lo, hi});
}

}  // namespace spk
