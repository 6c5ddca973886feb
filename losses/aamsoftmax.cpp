// aamsoftmax (ArcFace); see aamsoftmax.h. The loss is one fused op (engine margin_softmax_ce: normalise, cosine
// GEMM, margin, CE and its gradient; docs/cuda/losses.md), equal to the composed formula of aamsoftmax.h.
#include "losses/aamsoftmax.h"

#include "engine/init.h"
#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

AAMSoftmaxLoss::AAMSoftmaxLoss(const LossConfig& c, Rng& rng) : AAMSoftmaxLoss(c, rng, c.margin, c.scale) {}

AAMSoftmaxLoss::AAMSoftmaxLoss(const LossConfig& c, Rng& rng, double margin, double scale)
    : Loss("aamsoftmax",
           {.per_speaker = PerSpeaker::one, .test_normalize = true, .metric = MetricKind::accuracy}),
      m_(margin), s_(scale), easy_margin_(c.easy_margin) {
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
  FusedLossOutput f = margin_softmax_ce(
      xr, weight, labels,
      {.kind = MarginKind::angular, .margin = m_, .scale = s_, .easy_margin = easy_margin_, .weight_by_columns = false});
  return {f.loss, prediction_accuracy(f.pred, labels), metric_kind()};
}

}  // namespace spk
