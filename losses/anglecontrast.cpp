// CEL angular contrastive loss; see anglecontrast.h.
#include "losses/anglecontrast.h"

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

AngleContrastLoss::AngleContrastLoss(const LossConfig& c, Rng&)
    : Loss("anglecontrast", PerSpeaker::exactly_two, true, MetricKind::accuracy) {
  loss_util::check_dtype(name(), c);
  w = register_parameter("w", Tensor::scalar(c.init_w, c.dtype));
  b = register_parameter("b", Tensor::scalar(c.init_b, c.dtype));
}

LossOutput AngleContrastLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0);
  check_positional(labels, n);
  Tensor cos = cosine_matrix(loss_util::group_member(g, 1), loss_util::group_member(g, 0), 1e-8);
  Tensor z1 = add(mul(cos, w), b), z2 = add(mul(transpose(cos, 0, 1), w), b);
  Tensor target = loss_util::positional_labels(n, 1, x.device());
  Tensor loss = mul_scalar(add(cross_entropy(z1, target), cross_entropy(z2, target)), 0.5);
  return {loss, (top1_accuracy(z1, target) + top1_accuracy(z2, target)) / 2, metric_kind()};
}

}  // namespace spk
