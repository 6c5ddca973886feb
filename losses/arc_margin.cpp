// wespeaker arc_margin; see arc_margin.h.
#include "losses/arc_margin.h"

#include "engine/init.h"
#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

ArcMarginLoss::ArcMarginLoss(const LossConfig& c, Rng& rng)
    : Loss("arc_margin",
           {.per_speaker = PerSpeaker::one, .test_normalize = true, .metric = MetricKind::accuracy}),
      m_(c.margin), s_(c.scale),
      easy_margin_(c.easy_margin) {
  loss_util::check_classifier(name(), c);
  loss_util::check_angular(name(), c.margin, c.scale, "margin", "scale");
  weight = register_parameter("weight", Tensor::empty({c.nClasses, c.nOut}, c.dtype));
  xavier_uniform_(weight, rng, 1.0);
}

void ArcMarginLoss::set_margin(double m) {
  loss_util::check_angular(name(), m, s_, "margin", "scale");
  m_ = m;
}

LossOutput ArcMarginLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor xr = as_rows(x, labels, weight.size(1));
  Tensor cos = linear(l2_normalize(xr, 1, 1e-12), l2_normalize(weight, 1, 1e-12));
  Tensor onehot = loss_util::one_hot(labels, weight.size(0), cos.dtype());
  Tensor z = loss_util::additive_angular_margin(cos, onehot, m_, s_, easy_margin_, loss_util::ArcFallback::wespeaker);
  return {cross_entropy(z, labels), top1_accuracy(z, labels), metric_kind()};
}

}  // namespace spk
