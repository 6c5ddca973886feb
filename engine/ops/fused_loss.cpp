// Fused losses: margin_softmax_ce (AM-/AAM-softmax + CE) and similarity_ce (affine cosine matrix + CE with
// positional targets); kernels in kernels/loss/, maths and launch structure in docs/cuda/losses.md.
// The forward forms F = ∂loss/∂dot while the softmax is at hand (only when a gradient will be wanted), so the
// backward is two GEMMs and a fix-up pass scaled by the upstream gradient, read where it lives (no host sync).
// The loss is the mean of per-row terms, taken with the table's mean op outside the recorded node.
#include <cmath>

#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/loss/loss.h"

namespace spk {

namespace {

std::string str_of(const Tensor& t) { return t.defined() ? t.str() : std::string("undefined"); }

void check_same(const char* op, const Tensor& ref, const Tensor& t, const char* what) {
  SPK_CHECK(t.device() == ref.device() && t.dtype() == ref.dtype(), op, ": ", what, " ", t.str(), " and ", ref.str(),
            " differ in device or dtype");
}

// Mean of the per-row terms, outside autograd (the recorded node owns the gradient).
Tensor mean_of(const Tensor& rows) {
  NoGradGuard ng;
  return mean(rows);
}

}  // namespace

FusedLossOutput margin_softmax_ce(const Tensor& x, const Tensor& weight, const Tensor& labels,
                                  const MarginSoftmaxOptions& o) {
  const char* op = "margin_softmax_ce";
  SPK_CHECK(x.defined() && weight.defined() && labels.defined(), op, ": undefined input (x ", str_of(x), ", weight ",
            str_of(weight), ", labels ", str_of(labels), ")");
  check_op_device(OpId::margin_softmax_ce, x.device());
  SPK_CHECK(x.dim() == 2 && weight.dim() == 2, op, ": expected x (N, D) and weight ",
            o.weight_by_columns ? "(D, C)" : "(C, D)", ", got ", x.str(), " and ", weight.str());
  const int64_t N = x.size(0), D = x.size(1);
  const int64_t C = o.weight_by_columns ? weight.size(1) : weight.size(0);
  const int64_t WD = o.weight_by_columns ? weight.size(0) : weight.size(1);
  SPK_CHECK(WD == D, op, ": x ", x.str(), " has ", D, " features but weight ", weight.str(), " has ", WD,
            o.weight_by_columns ? " (weight is (D, C))" : " (weight is (C, D))");
  check_same(op, x, weight, "weight");
  SPK_CHECK(N > 0 && D > 0 && C > 0, op, ": empty input x ", x.str(), ", weight ", weight.str());
  SPK_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == N, op, ": labels must be i64 (", N,
            ") for x ", x.str(), ", got ", labels.str());
  SPK_CHECK(labels.device() == x.device(), op, ": x ", x.str(), " and labels ", labels.str(), " are on different devices");
  SPK_CHECK(std::isfinite(o.margin) && std::isfinite(o.scale) && o.scale > 0, op, ": margin ", o.margin, " and scale ",
            o.scale, " must be finite, scale positive");
  // CPU labels are validated here: a bad one would read out of bounds in the kernel. GPU labels are not read
  // back (a device-to-host sync per step): the kernel never reads out of bounds and gives that row a NaN loss,
  // which the trainer's --nan_policy reports (its labels are speaker indices of the list, checked against
  // --nClasses when the list is read).
  if (labels.device().is_cpu()) {
    Tensor lab = labels.contiguous();
    const int64_t* lp = lab.data<int64_t>();
    for (int64_t n = 0; n < N; ++n)
      SPK_CHECK(lp[n] >= 0 && lp[n] < C, op, ": label ", lp[n], " in row ", n, " is outside [0, ", C, ") for weight ",
                weight.str());
  }

  MarginCeArgs a;
  a.threads = cpu_threads();
  a.N = N; a.C = C; a.D = D;
  a.w_vs = o.weight_by_columns ? 1 : D;
  a.w_es = o.weight_by_columns ? C : 1;
  a.angular = o.kind == MarginKind::angular;
  a.easy_margin = o.easy_margin;
  a.margin = o.margin;
  a.scale = o.scale;

  const Device dev = x.device();
  const DType dt = x.dtype();
  Tensor xc = x.contiguous().detach(), wc = weight.contiguous().detach(), lc = labels.contiguous();
  const bool want = needs_grad({x, weight});
  Tensor F = Tensor::empty({N, C}, dt, dev), xn = Tensor::empty({2, N}, dt, dev), wn = Tensor::empty({2, C}, dt, dev);
  Tensor rows = Tensor::empty({N}, dt, dev), pred = Tensor::empty({N}, DType::i64, dev);
  dispatch(op, x,
      [&]<class T>() {
        margin_softmax_ce_forward_cpu<T>(a, xc.data<T>(), wc.data<T>(), lc.data<int64_t>(), F.data<T>(), xn.data<T>(),
                                         wn.data<T>(), rows.data<T>(), pred.data<int64_t>(), want);
      },
      [&](void* stream) {
        margin_softmax_ce_forward_cuda(a, xc.data<float>(), wc.data<float>(), lc.data<int64_t>(), F.data<float>(),
                                       xn.data<float>(), wn.data<float>(), rows.data<float>(), pred.data<int64_t>(),
                                       want, cuda::cublas_handle(), stream);
      });
  Tensor loss = mean_of(rows);
  if (want) {
    const bool gx = needs_grad({x}), gw = needs_grad({weight});
    const Shape wshape = weight.shape();
    loss = record(op, loss, {x, weight}, [a, xc, wc, F, xn, wn, gx, gw, wshape](const Tensor& g) -> std::vector<Tensor> {
      Tensor gc = g.contiguous();
      Tensor dx = gx ? Tensor::empty(xc.shape(), xc.dtype(), xc.device()) : Tensor();
      Tensor dw = gw ? Tensor::empty(wshape, wc.dtype(), wc.device()) : Tensor();
      dispatch("margin_softmax_ce backward", xc,
          [&]<class T>() {
            margin_softmax_ce_backward_cpu<T>(a, xc.data<T>(), wc.data<T>(), F.data<T>(), xn.data<T>(), wn.data<T>(),
                                              gc.data<T>(), data_or_null<T>(dx), data_or_null<T>(dw));
          },
          [&](void* stream) {
            margin_softmax_ce_backward_cuda(a, xc.data<float>(), wc.data<float>(), F.data<float>(), xn.data<float>(),
                                            wn.data<float>(), gc.data<float>(), data_or_null<float>(dx),
                                            data_or_null<float>(dw), cuda::cublas_handle(), stream);
          });
      return {dx, dw};
    });
  }
  return {loss, pred, Tensor()};
}

FusedLossOutput similarity_ce(const Tensor& a, const Tensor& b, const Tensor& w, const Tensor& bias,
                              const SimilarityCeOptions& o) {
  const char* op = "similarity_ce";
  SPK_CHECK(a.defined() && b.defined() && w.defined(), op, ": undefined input (a ", str_of(a), ", b ", str_of(b),
            ", w ", str_of(w), ")");
  check_op_device(OpId::similarity_ce, a.device());
  SPK_CHECK(a.dim() == 2 && a.shape() == b.shape(), op, ": expected a and b (N, D) of one shape, got ", a.str(), " and ",
            b.str());
  check_same(op, a, b, "b");
  check_same(op, a, w, "w");
  SPK_CHECK(w.dim() == 0, op, ": w must be a scalar (), got ", w.str());
  const bool has_bias = bias.defined();
  if (has_bias) {
    check_same(op, a, bias, "bias");
    SPK_CHECK(bias.dim() == 0, op, ": bias must be a scalar () or undefined, got ", bias.str());
  }
  const int64_t N = a.size(0), D = a.size(1);
  SPK_CHECK(N > 0 && D > 0, op, ": empty input ", a.str());
  SPK_CHECK(std::isfinite(o.eps) && o.eps > 0, op, ": eps ", o.eps, " must be positive");

  SimilarityCeArgs s;
  s.threads = cpu_threads();
  s.N = N; s.D = D;
  s.symmetric = o.symmetric;
  s.eps_product = o.eps_rule == CosineEps::product;
  s.eps = o.eps;
  s.has_bias = has_bias;

  const Device dev = a.device();
  const DType dt = a.dtype();
  Tensor ac = a.contiguous().detach(), bc = b.contiguous().detach(), wc = w.contiguous().detach();
  Tensor bic = has_bias ? bias.contiguous().detach() : Tensor();
  std::vector<Tensor> inputs{a, b, w};
  if (has_bias) inputs.push_back(bias);
  const bool want = needs_grad(inputs);
  const int64_t terms = o.symmetric ? 2 * N : N;
  Tensor dots = Tensor::empty({N, N}, dt, dev), sq = Tensor::empty({2, N}, dt, dev), lse = Tensor::empty({2, N}, dt, dev);
  Tensor F = want ? Tensor::empty({N, N}, dt, dev) : Tensor(), coef = want ? Tensor::empty({2, N}, dt, dev) : Tensor();
  Tensor part = want ? Tensor::empty({2, N}, dt, dev) : Tensor();
  Tensor rows = Tensor::empty({terms}, dt, dev), pred = Tensor::empty({terms}, DType::i64, dev);
  dispatch(op, a,
      [&]<class T>() {
        similarity_ce_forward_cpu<T>(s, ac.data<T>(), bc.data<T>(), wc.data<T>(), data_or_null<T>(bic), dots.data<T>(),
                                     data_or_null<T>(F), sq.data<T>(), lse.data<T>(), data_or_null<T>(coef),
                                     data_or_null<T>(part), rows.data<T>(), pred.data<int64_t>(), want);
      },
      [&](void* stream) {
        similarity_ce_forward_cuda(s, ac.data<float>(), bc.data<float>(), wc.data<float>(), data_or_null<float>(bic),
                                   dots.data<float>(), data_or_null<float>(F), sq.data<float>(), lse.data<float>(),
                                   data_or_null<float>(coef), data_or_null<float>(part), rows.data<float>(),
                                   pred.data<int64_t>(), want, cuda::cublas_handle(), stream);
      });
  Tensor loss = mean_of(rows);
  if (want) {
    const bool ga = needs_grad({a}), gb = needs_grad({b}), gw = needs_grad({w}), gbias = has_bias && needs_grad({bias});
    loss = record(op, loss, inputs, [s, ac, bc, F, coef, part, ga, gb, gw, gbias](const Tensor& g) -> std::vector<Tensor> {
      Tensor gc = g.contiguous();
      auto make = [&](bool on, const Shape& shape) { return on ? Tensor::empty(shape, ac.dtype(), ac.device()) : Tensor(); };
      Tensor da = make(ga, ac.shape()), db = make(gb, bc.shape()), dw = make(gw, {}), dbias = make(gbias, {});
      dispatch("similarity_ce backward", ac,
          [&]<class T>() {
            similarity_ce_backward_cpu<T>(s, ac.data<T>(), bc.data<T>(), F.data<T>(), coef.data<T>(), part.data<T>(),
                                          gc.data<T>(), data_or_null<T>(da), data_or_null<T>(db), data_or_null<T>(dw),
                                          data_or_null<T>(dbias));
          },
          [&](void* stream) {
            similarity_ce_backward_cuda(s, ac.data<float>(), bc.data<float>(), F.data<float>(), coef.data<float>(),
                                        part.data<float>(), gc.data<float>(), data_or_null<float>(da),
                                        data_or_null<float>(db), data_or_null<float>(dw), data_or_null<float>(dbias),
                                        cuda::cublas_handle(), stream);
          });
      std::vector<Tensor> grads{da, db, dw};
      if (s.has_bias) grads.push_back(dbias);
      return grads;
    });
  }
  if (!o.symmetric) return {loss, pred, Tensor()};
  NoGradGuard ng;
  return {loss, slice(pred, 0, 0, N), slice(pred, 0, N, 2 * N)};
}

}  // namespace spk
