// center loss (pyannote's CenterLoss); see center.h. Composed from engine ops.
#include "losses/center.h"

#include <cmath>

#include "engine/init.h"
#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

CenterDistance::CenterDistance(int64_t nfeat, int64_t nclass, Rng& rng, DType dtype) {
  centers = register_parameter("centers", Tensor::empty({nclass, nfeat}, dtype));
  normal_(centers, rng, 0.0, 1.0);
}

Tensor CenterDistance::forward(const Tensor& x, const Tensor& labels) const {
  Tensor centers_batch = index_select(centers, 0, labels);                                // (N, D)
  Tensor dists = add_scalar(neg(loss_util::row_cosine(x, centers_batch, 1e-8)), 1.0);     // (N, 1)
  return mul_scalar(sum(mul(dists, dists)), 0.5 / double(x.size(0)));
}

CenterLoss::CenterLoss(const LossConfig& c, Rng& rng)
    : Loss("center", {.per_speaker = PerSpeaker::one, .test_normalize = true, .metric = MetricKind::accuracy}),
      loss_weight_(c.pyannote_center_loss_weight) {
  loss_util::check_classifier(name(), c);
  SPK_CHECK(std::isfinite(loss_weight_) && loss_weight_ >= 0, name(), ": pyannote_center_loss_weight ", loss_weight_,
            " must be finite and >= 0");
  // Registration order = pyannote's: the classifier first, then the centres (more_parameters chains them so).
  classifier = register_module("classifier", std::make_shared<Linear>(c.nOut, c.nClasses, rng, /*bias=*/false, c.dtype));
  center_dist = register_module("center_dist", std::make_shared<CenterDistance>(c.nOut, c.nClasses, rng, c.dtype));
}

LossOutput CenterLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor xr = as_rows(x, labels, classifier->weight.size(1));
  loss_util::check_class_labels(name(), labels, classifier->weight.size(0));
  Tensor loss_centers = center_dist->forward(xr, labels);
  Tensor logits = classifier->forward(xr);
  Tensor loss = add(cross_entropy(logits, labels), mul_scalar(loss_centers, loss_weight_));
  return {loss, top1_accuracy(logits, labels), metric_kind()};
}

}  // namespace spk
