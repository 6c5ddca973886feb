// pyannote_softmax (pyannote's Classification); see pyannote_softmax.h.
#include "losses/pyannote_softmax.h"

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

PyannoteSoftmaxLoss::PyannoteSoftmaxLoss(const LossConfig& c, Rng& rng)
    : Loss("pyannote_softmax",
           {.per_speaker = PerSpeaker::one, .test_normalize = true, .metric = MetricKind::accuracy}) {
  loss_util::check_classifier(name(), c);
  classifier = register_module(
      "classifier", std::make_shared<Linear>(c.nOut, c.nClasses, rng, c.pyannote_classifier_bias, c.dtype));
}

LossOutput PyannoteSoftmaxLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor z = classifier->forward(as_rows(x, labels, classifier->weight.size(1)));
  return {cross_entropy(z, labels), top1_accuracy(z, labels), metric_kind()};
}

}  // namespace spk
