// aamsoftmax (ArcFace); see aamsoftmax.h.
#include "losses/aamsoftmax.h"

#include "engine/init.h"
#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

AAMSoftmaxLoss::AAMSoftmaxLoss(const LossConfig& c, Rng& rng) : AAMSoftmaxLoss(c, rng, c.margin, c.scale) {}

AAMSoftmaxLoss::AAMSoftmaxLoss(const LossConfig& c, Rng& rng, double margin, double scale)
    : Loss("aamsoftmax", PerSpeaker::one, true, MetricKind::accuracy), m_(margin), s_(scale),
      easy_margin_(c.easy_margin) {
  loss_util::check_classifier(name(), c);
  loss_util::check_angular(name(), margin, scale, "margin", "scale");
  weight = register_parameter("weight", Tensor::empty({c.nClasses, c.nOut}, c.dtype));
  xavier_normal_(weight, rng, 1.0);
}

void AAMSoftmaxLoss::set_margin(double m) {
  loss_util::check_angular(name(), m, s_, "margin", "scale");
  m_ = m;
}

LossOutput AAMSoftmaxLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor xr = as_rows(x, labels, weight.size(1));
  Tensor cos = linear(l2_normalize(xr, 1, 1e-12), l2_normalize(weight, 1, 1e-12));   // (N, C)
  Tensor onehot = loss_util::one_hot(labels, weight.size(0), cos.dtype());
  Tensor z = loss_util::additive_angular_margin(cos, onehot, m_, s_, easy_margin_,
                                                loss_util::ArcFallback::voxceleb_trainer);
  return {cross_entropy(z, labels), top1_accuracy(z, labels), metric_kind()};
}

}  // namespace spk
