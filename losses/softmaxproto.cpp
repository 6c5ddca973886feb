// softmax + angular prototypical; see softmaxproto.h.
#include "losses/softmaxproto.h"

#include "engine/ops.h"
#include "losses/common.h"

namespace spk {

SoftmaxProtoLoss::SoftmaxProtoLoss(const LossConfig& c, Rng& rng)
    : Loss("softmaxproto",
           {.per_speaker = PerSpeaker::exactly_two, .test_normalize = true, .metric = MetricKind::accuracy}) {
  softmax = register_module("softmax", std::make_shared<SoftmaxLoss>(c, rng));
  angleproto = register_module("angleproto", std::make_shared<AngleProtoLoss>(c, rng));
}

LossOutput SoftmaxProtoLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0), d = g.size(2);
  SPK_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == n, name(),
            ": labels must be i64 (", n, ") class indices, got ", labels.defined() ? labels.str() : "undefined");
  LossOutput s = softmax->forward(reshape(g, {2 * n, d}), loss_util::repeat_interleave(labels, 2));
  LossOutput p = angleproto->forward(g, labels);
  return {add(s.loss, p.loss), s.metric, metric_kind()};
}

}  // namespace spk
