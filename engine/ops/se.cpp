// The fused ops of the SE residual block (kernels/se): squeeze_excite (pool + FC + ReLU + FC + sigmoid + scale, one
// op each way instead of nine table ops and their (N, C)-sized tensors) and add_relu (the residual join relu(a + b)
// in one pass each way instead of two, with no intermediate sum kept for the backward).
#include <algorithm>

#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/se/se.h"

namespace spk {

namespace {

// A parameter of shape `shape` on x's device and dtype; biases may be undefined.
void check_param(const char* what, const Tensor& p, const Shape& shape, const Tensor& x, bool optional) {
  if (optional && !p.defined()) return;
  SPK_CHECK(p.defined(), "squeeze_excite: ", what, " is undefined");
  SPK_CHECK(p.shape() == shape, "squeeze_excite: ", what, " ", p.str(), " must have shape ", shape_str(shape),
            " for input ", x.str());
  SPK_CHECK(p.device() == x.device() && p.dtype() == x.dtype(), "squeeze_excite: ", what, " ", p.str(),
            " is not on the device and dtype of input ", x.str());
}

Tensor dense(const Tensor& t) { return t.defined() ? t.contiguous().detach() : Tensor(); }

Tensor grad_buffer(bool wanted, const Tensor& like) {
  return wanted ? Tensor::empty(like.shape(), like.dtype(), like.device()) : Tensor();
}

}  // namespace

Tensor squeeze_excite(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2) {
  SPK_CHECK(x.defined(), "squeeze_excite: undefined input");
  check_op_device(OpId::squeeze_excite, x.device());
  SPK_CHECK(x.dim() == 3 || x.dim() == 4, "squeeze_excite: input must be (N, C, L) or (N, C, H, W), got ", x.str());
  check_cuda_f32("squeeze_excite", x);
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / std::max<int64_t>(N * C, 1);
  SPK_CHECK(C > 0 && (N == 0 || S > 0), "squeeze_excite: input ", x.str(), " has no channels or no positions");
  SPK_CHECK(w1.defined() && w1.dim() == 2, "squeeze_excite: w1 must be (R, C), got ", w1.str());
  const int64_t R = w1.size(0);
  SPK_CHECK(R > 0, "squeeze_excite: w1 ", w1.str(), " has no rows");
  check_param("w1", w1, {R, C}, x, false);
  check_param("b1", b1, {R}, x, true);
  check_param("w2", w2, {C, R}, x, false);
  check_param("b2", b2, {C}, x, true);

  const Tensor xc = x.contiguous().detach(), w1c = dense(w1), b1c = dense(b1), w2c = dense(w2), b2c = dense(b2);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor pooled = Tensor::empty({N, C}, x.dtype(), x.device()), hidden = Tensor::empty({N, R}, x.dtype(), x.device());
  Tensor scale = Tensor::empty({N, C}, x.dtype(), x.device());
  dispatch("squeeze_excite", x,
      [&]<class T>() {
        squeeze_excite_forward_cpu<T>(xc.data<T>(), w1c.data<T>(), data_or_null<T>(b1c), w2c.data<T>(),
                                      data_or_null<T>(b2c), y.data<T>(), pooled.data<T>(), hidden.data<T>(),
                                      scale.data<T>(), N, C, S, R, cpu_threads());
      },
      [&](void* stream) {
        squeeze_excite_forward_cuda(xc.data<float>(), w1c.data<float>(), data_or_null<float>(b1c), w2c.data<float>(),
                                    data_or_null<float>(b2c), y.data<float>(), pooled.data<float>(),
                                    hidden.data<float>(), scale.data<float>(), N, C, S, R, stream);
      });

  const bool gx = needs_grad({x}), gw1 = needs_grad({w1}), gb1 = needs_grad({b1}), gw2 = needs_grad({w2}),
             gb2 = needs_grad({b2});
  return record("squeeze_excite", y, {x, w1, b1, w2, b2},
                [=](const Tensor& g) -> std::vector<Tensor> {
    const Tensor gc = g.contiguous();
    Tensor dx = grad_buffer(gx, xc), dw1 = grad_buffer(gw1, w1c), db1 = grad_buffer(gb1 && b1c.defined(), b1c),
           dw2 = grad_buffer(gw2, w2c), db2 = grad_buffer(gb2 && b2c.defined(), b2c);
    dispatch("squeeze_excite backward", xc,
        [&]<class T>() {
          squeeze_excite_backward_cpu<T>(xc.data<T>(), gc.data<T>(), w1c.data<T>(), w2c.data<T>(), pooled.data<T>(),
                                         hidden.data<T>(), scale.data<T>(), data_or_null<T>(dx), data_or_null<T>(dw1),
                                         data_or_null<T>(db1), data_or_null<T>(dw2), data_or_null<T>(db2), N, C, S, R,
                                         cpu_threads());
        },
        [&](void* stream) {
          Tensor ws = Tensor::empty({squeeze_excite_cuda_workspace(N, C, R)}, DType::f32, xc.device());
          squeeze_excite_backward_cuda(xc.data<float>(), gc.data<float>(), w1c.data<float>(), w2c.data<float>(),
                                       pooled.data<float>(), hidden.data<float>(), scale.data<float>(),
                                       data_or_null<float>(dx), data_or_null<float>(dw1), data_or_null<float>(db1),
                                       data_or_null<float>(dw2), data_or_null<float>(db2), N, C, S, R,
                                       ws.data<float>(), stream);
        });
    return {dx, dw1, db1, dw2, db2};
  });
}

Tensor add_relu(const Tensor& a, const Tensor& b) {
  SPK_CHECK(a.defined() && b.defined(), "add_relu: undefined input");
  check_op_device(OpId::add_relu, a.device());
  SPK_CHECK(a.shape() == b.shape(), "add_relu: shapes must be equal (no broadcasting), got ", a.str(), " and ",
            b.str());
  SPK_CHECK(a.device() == b.device() && a.dtype() == b.dtype(), "add_relu: ", a.str(), " and ", b.str(),
            " differ in device or dtype");
  check_cuda_f32("add_relu", a);
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  const int64_t n = a.numel();
  dispatch("add_relu", a,
      [&]<class T>() { add_relu_forward_cpu<T>(ac.data<T>(), bc.data<T>(), y.data<T>(), n, cpu_threads()); },
      [&](void* stream) { add_relu_forward_cuda(ac.data<float>(), bc.data<float>(), y.data<float>(), n, stream); });
  // The backward needs only the output's sign: a detached handle (the node must not own its own output).
  const Tensor yd = y.detach();
  const bool ga = needs_grad({a}), gb = needs_grad({b});
  return record("add_relu", y, {a, b}, [yd, ga, gb, n](const Tensor& g) -> std::vector<Tensor> {
    const Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(yd.shape(), yd.dtype(), yd.device());
    dispatch("add_relu backward", yd,
        [&]<class T>() { add_relu_backward_cpu<T>(yd.data<T>(), gc.data<T>(), dx.data<T>(), n, cpu_threads()); },
        [&](void* stream) { add_relu_backward_cuda(yd.data<float>(), gc.data<float>(), dx.data<float>(), n, stream); });
    // One buffer serves both inputs: autograd sums gradients out of place, never into what a closure returned.
    return {ga ? dx : Tensor(), gb ? dx : Tensor()};
  });
}

}  // namespace spk
