// Softmax family: softmax, log_softmax (any dim) and cross_entropy with integer labels (mean over N).
// A dense input seen as (outer, C, inner) lets one kernel normalise over any dim without a transpose.
// Backward uses the saved output (softmax) or the saved logits and logsumexp (cross_entropy).
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/softmax/softmax.h"

namespace spk {

namespace {

struct Rows { int64_t outer = 1, C = 1, inner = 1; };

// x as (outer, C, inner) around dim d; a 0-d tensor is one row of one element (as PyTorch).
Rows rows_around(const Shape& s, int64_t d) {
  Rows r;
  for (int64_t i = 0; i < int64_t(s.size()); ++i) (i < d ? r.outer : i == d ? r.C : r.inner) *= s[size_t(i)];
  return r;
}

Tensor softmax_impl(OpId id, const Tensor& x, int64_t dim, bool log) {
  const char* op = op_info(id).name;
  SPK_CHECK(x.defined(), op, ": undefined input");
  check_op_device(id, x.device());
  const int64_t d = wrap_dim(dim, std::max<int64_t>(x.dim(), 1), op);
  const Rows r = rows_around(x.shape(), d);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel() > 0) {
    dispatch(op, x,
        [&]<class T>() { softmax_forward_cpu<T>(xc.data<T>(), y.data<T>(), r.outer, r.C, r.inner, log); },
        [&](void* stream) {
          softmax_forward_cuda(xc.data<float>(), y.data<float>(), r.outer, r.C, r.inner, log, stream);
        });
  }
  Tensor yd = y.detach();
  return record(op, y, {x}, [op, yd, r, log](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(yd.shape(), yd.dtype(), yd.device());
    if (dx.numel() == 0) return {dx};
    dispatch(op, yd,
        [&]<class T>() {
          softmax_backward_cpu<T>(yd.data<T>(), gc.data<T>(), dx.data<T>(), r.outer, r.C, r.inner, log);
        },
        [&](void* stream) {
          softmax_backward_cuda(yd.data<float>(), gc.data<float>(), dx.data<float>(), r.outer, r.C, r.inner, log,
                                stream);
        });
    return {dx};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(OpId::softmax, x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(OpId::log_softmax, x, dim, true); }

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  SPK_CHECK(logits.defined() && labels.defined(), "cross_entropy: undefined input");
  check_op_device(OpId::cross_entropy, logits.device());
  SPK_CHECK(logits.dim() == 2, "cross_entropy: logits must be (N, C), got ", logits.str());
  const int64_t N = logits.size(0), C = logits.size(1);
  SPK_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == N,
            "cross_entropy: labels must be i64 (", N, ") for logits ", logits.str(), ", got ", labels.str());
  SPK_CHECK(labels.device() == logits.device(), "cross_entropy: logits ", logits.str(), " and labels ", labels.str(),
            " are on different devices");
  SPK_CHECK(N > 0, "cross_entropy: empty batch ", logits.str());
  // CPU labels are validated here: a bad one would read out of bounds in the kernel. GPU labels are not read
  // back (a device-to-host sync per step): the kernel never reads out of bounds and gives that row a NaN loss,
  // which the trainer's --nan_policy reports (its labels are speaker indices of the list, checked against
  // --nClasses when the list is read).
  if (labels.device().is_cpu()) {
    Tensor lab = labels.contiguous();
    const int64_t* lp = lab.data<int64_t>();
    for (int64_t n = 0; n < N; ++n)
      SPK_CHECK(lp[n] >= 0 && lp[n] < C, "cross_entropy: label ", lp[n], " in row ", n, " is outside [0, ", C,
                ") for logits ", logits.str());
  }

  Tensor xc = logits.contiguous(), labc = labels.contiguous();
  Tensor loss = Tensor::empty({N}, logits.dtype(), logits.device());
  Tensor lse = Tensor::empty({N}, logits.dtype(), logits.device());
  dispatch("cross_entropy", logits,
      [&]<class T>() {
        cross_entropy_forward_cpu<T>(xc.data<T>(), labc.data<int64_t>(), loss.data<T>(), lse.data<T>(), N, C);
      },
      [&](void* stream) {
        cross_entropy_forward_cuda(xc.data<float>(), labc.data<int64_t>(), loss.data<float>(), lse.data<float>(), N,
                                   C, stream);
      });
  // The per-row losses carry the fused backward; the mean over N is an ordinary table op on top.
  Tensor xd = xc.detach();
  Tensor rows = record("cross_entropy", loss, {logits}, [xd, labc, lse, N, C](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(xd.shape(), xd.dtype(), xd.device());
    dispatch("cross_entropy backward", xd,
        [&]<class T>() {
          cross_entropy_backward_cpu<T>(xd.data<T>(), labc.data<int64_t>(), lse.data<T>(), gc.data<T>(), dx.data<T>(),
                                        N, C);
        },
        [&](void* stream) {
          cross_entropy_backward_cuda(xd.data<float>(), labc.data<int64_t>(), lse.data<float>(), gc.data<float>(),
                                      dx.data<float>(), N, C, stream);
        });
    return {dx};
  });
  return mean(rows);
}

}  // namespace spk
