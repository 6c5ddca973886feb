// CEL angular contrastive loss; see anglecontrast.h. Both directions of the CE over w·cos + b are one fused op
// (engine similarity_ce with symmetric, cosine_matrix's eps rule; docs/cuda/losses.md).
#include "losses/anglecontrast.h"

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

AngleContrastLoss::AngleContrastLoss(const LossConfig& c, Rng&)
    : Loss("anglecontrast",
           {.per_speaker = PerSpeaker::exactly_two, .test_normalize = true, .metric = MetricKind::accuracy}) {
  loss_util::check_dtype(name(), c);
  w = register_parameter("w", Tensor::scalar(c.init_w, c.dtype));
  b = register_parameter("b", Tensor::scalar(c.init_b, c.dtype));
}

LossOutput AngleContrastLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0);
  check_positional(labels, n);
  // S_ik = cos(x_{i,1}, x_{k,0}); rows of S then rows of Sᵀ (the columns), averaged.
  FusedLossOutput f = similarity_ce(loss_util::group_member(g, 1), loss_util::group_member(g, 0), w, b,
                                    {.symmetric = true, .eps_rule = CosineEps::product, .eps = 1e-8});
  return {f.loss, mean_of(prediction_accuracy(f.pred), prediction_accuracy(f.pred_t)), metric_kind()};
}

}  // namespace spk
