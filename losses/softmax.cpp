// softmax loss; see softmax.h.
#include "losses/softmax.h"

#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

SoftmaxLoss::SoftmaxLoss(const LossConfig& c, Rng& rng)
    : Loss("softmax",
           {.per_speaker = PerSpeaker::one, .test_normalize = true, .metric = MetricKind::accuracy}) {
  loss_util::check_classifier(name(), c);
  fc = register_module("fc", std::make_shared<Linear>(c.nOut, c.nClasses, rng, /*bias=*/true, c.dtype));
}

LossOutput SoftmaxLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor z = fc->forward(as_rows(x, labels, fc->weight.size(1)));
  return {cross_entropy(z, labels), top1_accuracy(z, labels), metric_kind()};
}

}  // namespace spk
