// aamsoftmax (ArcFace); see aamsoftmax.h. The loss is one fused op (engine margin_softmax_ce: normalise, cosine
// GEMM, margin, CE and its gradient; docs/cuda/losses.md), equal to the composed formula of aamsoftmax.h.
#include "losses/aamsoftmax.h"

#include "engine/init.h"
#include "engine/ops.h"
#include "losses/common.h"

namespace spk {

namespace {

// top1_accuracy from the fused op's argmax: % of rows whose prediction is the label.
double accuracy_of(const Tensor& pred, const Tensor& labels) {
  std::vector<int64_t> p = pred.to_vector<int64_t>(), y = labels.to_vector<int64_t>();
  int64_t hit = 0;
  for (size_t i = 0; i < y.size(); ++i) hit += p[i] == y[i];
  return y.empty() ? 0.0 : 100.0 * double(hit) / double(y.size());
}

}  // namespace

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
  FusedLossOutput f = margin_softmax_ce(xr, weight, labels, {MarginKind::angular, m_, s_, easy_margin_, false});
  return {f.loss, accuracy_of(f.pred, labels), metric_kind()};
}

}  // namespace spk
