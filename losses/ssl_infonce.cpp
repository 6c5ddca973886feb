// ssl-for-slr SimCLR InfoNCE; see ssl_infonce.h.
#include "losses/ssl_infonce.h"

#include <cmath>

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

SSLInfoNCELoss::SSLInfoNCELoss(const LossConfig& c, Rng& rng)
    : Loss("ssl_infonce",
           {.per_speaker = PerSpeaker::exactly_two, .test_normalize = true, .metric = MetricKind::accuracy}),
      temperature_(c.ssl_temperature) {
  SPK_CHECK(std::isfinite(temperature_) && temperature_ > 0, name(), ": ssl_temperature ", temperature_,
            " must be positive");
  SPK_CHECK(c.ssl_proj_layers >= 0, name(), ": ssl_proj_layers ", c.ssl_proj_layers, " must be 0 (no head) or more");
  if (c.ssl_proj_layers > 0) {
    head_in_ = c.nOut;
    head = register_module("proj", std::make_shared<ProjectionHead>(c.nOut, c.ssl_proj_dim, c.ssl_proj_layers, rng,
                                                                     c.dtype));
  }
}

LossOutput SSLInfoNCELoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0);
  check_positional(labels, n);
  Tensor v1 = loss_util::group_member(g, 0), v2 = loss_util::group_member(g, 1);
  if (head) {
    SPK_CHECK(g.size(2) == head_in_, name(), ": embedding size ", g.size(2), " of ", x.str(),
              " does not match the projection head's input nOut ", head_in_);
    v1 = head->forward(v1);
    v2 = head->forward(v2);
  }
  Tensor z1 = l2_normalize(v1, 1, 1e-6), z2 = l2_normalize(v2, 1, 1e-6);
  Tensor logits = div(matmul(z1, transpose(z2, 0, 1)), Tensor::scalar(temperature_, g.dtype(), g.device()));
  Tensor target = loss_util::positional_labels(n, 1, x.device());
  return {cross_entropy(logits, target), top1_accuracy(logits, target), metric_kind()};
}

}  // namespace spk
