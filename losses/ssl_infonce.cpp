// ssl-for-slr SimCLR InfoNCE; see ssl_infonce.h.
#include "losses/ssl_infonce.h"

#include <cmath>

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

SSLInfoNCELoss::SSLInfoNCELoss(const LossConfig& c, Rng&)
    : Loss("ssl_infonce",
           {.per_speaker = PerSpeaker::exactly_two, .test_normalize = true, .metric = MetricKind::accuracy}),
      temperature_(c.ssl_temperature) {
  SPK_CHECK(std::isfinite(temperature_) && temperature_ > 0, name(), ": ssl_temperature ", temperature_,
            " must be positive");
}

LossOutput SSLInfoNCELoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0);
  check_positional(labels, n);
  Tensor z1 = l2_normalize(loss_util::group_member(g, 0), 1, 1e-6), z2 = l2_normalize(loss_util::group_member(g, 1), 1, 1e-6);
  Tensor logits = div(matmul(z1, transpose(z2, 0, 1)), Tensor::scalar(temperature_, g.dtype(), g.device()));
  Tensor target = loss_util::positional_labels(n, 1, x.device());
  return {cross_entropy(logits, target), top1_accuracy(logits, target), metric_kind()};
}

}  // namespace spk
