// amsoftmax (CosFace); see amsoftmax.h. The loss is one fused op (engine margin_softmax_ce with W (nOut, nClasses)
// read by columns; docs/cuda/losses.md), equal to the composed formula of amsoftmax.h.
#include "losses/amsoftmax.h"

#include <cmath>

#include "engine/init.h"
#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

AMSoftmaxLoss::AMSoftmaxLoss(const LossConfig& c, Rng& rng)
    : Loss("amsoftmax",
           {.per_speaker = PerSpeaker::one, .test_normalize = true, .metric = MetricKind::accuracy}),
      m_(c.margin), s_(c.scale) {
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
  FusedLossOutput f = margin_softmax_ce(   // W is (nOut, nClasses): the classes are its columns
      xr, W, labels,
      {.kind = MarginKind::additive, .margin = m_, .scale = s_, .easy_margin = false, .weight_by_columns = true});
  return {f.loss, prediction_accuracy(f.pred, labels), metric_kind()};
}

}  // namespace spk
