// Dropout (kernels/dropout): training zeroes each element with probability p and scales the rest by
// 1/(1 − p); the mask comes from numel Philox counters reserved from the caller's Rng, so a run is
// reproducible from the Rng state and the mask does not depend on the device. Eval mode and p = 0 return x
// itself and draw nothing; p = 1 returns zeros (and still reserves the counters, so the Rng advances the
// same way for every p in training).
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "kernels/dropout/dropout.h"

namespace spk {

Tensor dropout(const Tensor& x, double p, Rng& rng, bool training) {
  SPK_CHECK(x.defined(), "dropout: undefined input");
  SPK_CHECK(p >= 0 && p <= 1, "dropout: probability must be in [0, 1], got p = ", p);
  if (!training || p == 0) return x;
  check_op_device(OpId::dropout, x.device());
  const int64_t n = x.numel();
  const uint64_t seed = rng.seed(), offset = rng.reserve(uint64_t(n));
  if (p == 1) {
    Tensor y = Tensor::zeros(x.shape(), x.dtype(), x.device());
    Shape xs = x.shape();
    return record("dropout", y, {x}, [xs](const Tensor& g) -> std::vector<Tensor> {
      return {Tensor::zeros(xs, g.dtype(), g.device())};
    });
  }
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch("dropout", x,
      [&]<class T>() { dropout_forward_cpu<T>(xc.data<T>(), y.data<T>(), n, p, seed, offset); },
      [&](void* stream) { dropout_forward_cuda(xc.data<float>(), y.data<float>(), n, p, seed, offset, stream); });
  return record("dropout", y, {x}, [n, p, seed, offset](const Tensor& g) -> std::vector<Tensor> {
    Tensor gc = g.contiguous();
    Tensor dx = Tensor::empty(g.shape(), g.dtype(), g.device());
    dispatch("dropout backward", g,
        [&]<class T>() { dropout_backward_cpu<T>(gc.data<T>(), dx.data<T>(), n, p, seed, offset); },
        [&](void* stream) { dropout_backward_cuda(gc.data<float>(), dx.data<float>(), n, p, seed, offset, stream); });
    return {dx};
  });
}

}  // namespace spk
