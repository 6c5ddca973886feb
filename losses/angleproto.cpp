// Angular prototypical loss; see angleproto.h. The similarity matrix and its CE are one fused op (engine
// similarity_ce, cosine_matrix's eps rule; docs/cuda/losses.md).
#include "losses/angleproto.h"

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

AngleProtoLoss::AngleProtoLoss(const LossConfig& c, Rng&)
    : Loss("angleproto",
           {.per_speaker = PerSpeaker::at_least_two, .test_normalize = true, .metric = MetricKind::accuracy}) {
  loss_util::check_dtype(name(), c);
  w = register_parameter("w", Tensor::scalar(c.init_w, c.dtype));
  b = register_parameter("b", Tensor::scalar(c.init_b, c.dtype));
}

LossOutput AngleProtoLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0), m = g.size(1);
  check_positional(labels, n);
  Tensor query = loss_util::group_member(g, 0);
  Tensor proto = mean(slice(g, 1, 1, m), {1});
  FusedLossOutput f =
      similarity_ce(query, proto, w, b, {.symmetric = false, .eps_rule = CosineEps::product, .eps = 1e-8});
  return {f.loss, prediction_accuracy(f.pred), metric_kind()};
}

}  // namespace spk
