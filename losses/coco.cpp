// coco (pyannote's CocoLinear); see coco.h. Composed from engine ops.
#include "losses/coco.h"

#include <cmath>

#include "engine/init.h"
#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

CocoLinear::CocoLinear(int64_t nfeat, int64_t nclass, double alpha_, Rng& rng, DType dtype) : alpha(alpha_) {
  centers = register_parameter("centers", Tensor::empty({nclass, nfeat}, dtype));
  normal_(centers, rng, 0.0, 1.0);
}

Tensor CocoLinear::forward(const Tensor& x) const {
  Tensor xnorm = mul_scalar(l2_normalize(x, 1, 1e-12), alpha);
  return matmul(xnorm, transpose(l2_normalize(centers, 1, 1e-12), 0, 1));
}

CocoLoss::CocoLoss(const LossConfig& c, Rng& rng)
    : Loss("coco", {.per_speaker = PerSpeaker::one, .test_normalize = true, .metric = MetricKind::accuracy}) {
  loss_util::check_classifier(name(), c);
  SPK_CHECK(std::isfinite(c.pyannote_coco_alpha) && c.pyannote_coco_alpha > 0, name(), ": pyannote_coco_alpha ",
            c.pyannote_coco_alpha, " must be positive");
  classifier = register_module("classifier",
                               std::make_shared<CocoLinear>(c.nOut, c.nClasses, c.pyannote_coco_alpha, rng, c.dtype));
}

LossOutput CocoLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor z = classifier->forward(as_rows(x, labels, classifier->centers.size(1)));
  return {cross_entropy(z, labels), top1_accuracy(z, labels), metric_kind()};
}

}  // namespace spk
