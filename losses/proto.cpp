// Prototypical loss; see proto.h.
#include "losses/proto.h"

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

ProtoLoss::ProtoLoss(const LossConfig& c, Rng&)
    : Loss("proto",
           {.per_speaker = PerSpeaker::at_least_two, .test_normalize = false, .metric = MetricKind::accuracy}) {}

LossOutput ProtoLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0), m = g.size(1);
  check_positional(labels, n);
  Tensor query = loss_util::group_member(g, 0);
  Tensor proto = mean(slice(g, 1, 1, m), {1});
  // ‖q − c + eps‖² = ‖(q + eps) − c‖²
  Tensor z = neg(loss_util::sq_distance_matrix(add_scalar(query, 1e-6), proto));
  Tensor target = loss_util::positional_labels(n, 1, x.device());
  return {cross_entropy(z, target), top1_accuracy(z, target), metric_kind()};
}

}  // namespace spk
