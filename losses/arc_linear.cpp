// arc_linear (pyannote's ArcLinear); see arc_linear.h. Composed from engine ops.
#include "losses/arc_linear.h"

#include <cmath>

#include "engine/init.h"
#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

namespace {
constexpr double kCosEps = 1e-4;   // ArcLinear: min_cos = eps − 1, max_cos = 1 − eps
}

ArcLinear::ArcLinear(int64_t nfeat, int64_t nclass, double margin_, double s_, Rng& rng, DType dtype)
    : margin(margin_), s(s_) {
  W = register_parameter("W", Tensor::empty({nclass, nfeat}, dtype));
  xavier_uniform_(W, rng, 1.0);
}

Tensor ArcLinear::forward(const Tensor& x, const Tensor& labels) const {
  Tensor cos = matmul(l2_normalize(x, 1, 1e-12), transpose(l2_normalize(W, 1, 1e-12), 0, 1));   // (N, C)
  Tensor t = clamp(gather(cos, 1, reshape(labels, {labels.size(0), 1})), kCosEps - 1, 1 - kCosEps);   // (N, 1)
  Tensor sine = sqrt(add_scalar(neg(mul(t, t)), 1.0));
  Tensor cos_margin = sub(mul_scalar(t, std::cos(margin)), mul_scalar(sine, std::sin(margin)));
  Tensor onehot = loss_util::one_hot(labels, W.size(0), cos.dtype());
  return mul_scalar(add(cos, mul(onehot, sub(cos_margin, t))), s);
}

ArcLinearLoss::ArcLinearLoss(const LossConfig& c, Rng& rng)
    : Loss("arc_linear", {.per_speaker = PerSpeaker::one, .test_normalize = true, .metric = MetricKind::accuracy}) {
  loss_util::check_classifier(name(), c);
  loss_util::check_angular(name(), c.pyannote_aam_margin, c.pyannote_aam_scale, "pyannote_aam_margin",
                           "pyannote_aam_scale");
  classifier = register_module(
      "classifier", std::make_shared<ArcLinear>(c.nOut, c.nClasses, c.pyannote_aam_margin, c.pyannote_aam_scale, rng,
                                                c.dtype));
}

void ArcLinearLoss::set_margin(double m) {
  loss_util::check_angular(name(), m, classifier->s, "margin", "scale");
  classifier->margin = m;
}

LossOutput ArcLinearLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor xr = as_rows(x, labels, classifier->W.size(1));
  loss_util::check_class_labels(name(), labels, classifier->W.size(0));
  Tensor z = classifier->forward(xr, labels);
  return {cross_entropy(z, labels), top1_accuracy(z, labels), metric_kind()};
}

}  // namespace spk
