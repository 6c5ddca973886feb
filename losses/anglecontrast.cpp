// CEL angular contrastive loss; see anglecontrast.h. Both directions of the CE over w·cos + b are one fused op
// (engine similarity_ce with symmetric, cosine_matrix's eps rule; docs/cuda/losses.md).
#include "losses/anglecontrast.h"

#include "engine/ops.h"
#include "losses/common.h"

namespace spk {

namespace {

// top1_accuracy against positional targets from the fused op's argmax: % of rows i predicted as i.
double accuracy_of(const Tensor& pred) {
  std::vector<int64_t> p = pred.to_vector<int64_t>();
  int64_t hit = 0;
  for (size_t i = 0; i < p.size(); ++i) hit += p[i] == int64_t(i);
  return p.empty() ? 0.0 : 100.0 * double(hit) / double(p.size());
}

}  // namespace

AngleContrastLoss::AngleContrastLoss(const LossConfig& c, Rng&)
    : Loss("anglecontrast", PerSpeaker::exactly_two, true, MetricKind::accuracy) {
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
                                    {true, CosineEps::product, 1e-8});
  return {f.loss, (accuracy_of(f.pred) + accuracy_of(f.pred_t)) / 2, metric_kind()};
}

}  // namespace spk
