// amsoftmax (CosFace); see amsoftmax.h.
#include "losses/amsoftmax.h"

#include <cmath>

#include "engine/init.h"
#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

AMSoftmaxLoss::AMSoftmaxLoss(const LossConfig& c, Rng& rng)
    : Loss("amsoftmax", PerSpeaker::one, true, MetricKind::accuracy), m_(c.margin), s_(c.scale) {
  loss_util::check_classifier(name(), c);
  SPK_CHECK(std::isfinite(c.scale) && c.scale > 0, name(), ": scale ", c.scale, " must be positive");
  set_margin(c.margin);
  W = register_parameter("W", Tensor::empty({c.nOut, c.nClasses}, c.dtype));
  xavier_normal_(W, rng, 1.0);
}

void AMSoftmaxLoss::set_margin(double m) {
  SPK_CHECK(std::isfinite(m), name(), ": margin ", m, " must be finite");
  m_ = m;
}

LossOutput AMSoftmaxLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor xr = as_rows(x, labels, W.size(0));
  Tensor cos = matmul(l2_normalize(xr, 1, 1e-12), l2_normalize(W, 0, 1e-12));   // (N, C)
  Tensor onehot = loss_util::one_hot(labels, W.size(1), cos.dtype());
  Tensor z = mul_scalar(sub(cos, mul_scalar(onehot, m_)), s_);
  return {cross_entropy(z, labels), top1_accuracy(z, labels), metric_kind()};
}

}  // namespace spk
