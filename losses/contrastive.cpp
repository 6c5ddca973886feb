// contrastive (pyannote's ContrastiveLoss); see contrastive.h. Composed from engine ops.
#include "losses/contrastive.h"

#include <cmath>
#include <limits>

#include "engine/ops.h"
#include "losses/common.h"

namespace spk {

ContrastiveLoss::ContrastiveLoss(const LossConfig& c, Rng&)
    : PyannotePairwiseLoss("contrastive",
                           {.per_speaker = PerSpeaker::at_least_two, .test_normalize = true, .metric = MetricKind::eer}),
      margin_(c.pyannote_contrastive_margin * kMaxDistance) {
  SPK_CHECK(std::isfinite(c.pyannote_contrastive_margin) && c.pyannote_contrastive_margin >= 0, name(),
            ": pyannote_contrastive_margin ", c.pyannote_contrastive_margin, " must be finite and >= 0");
}

LossOutput ContrastiveLoss::forward(const Tensor& x, const Tensor& labels) {
  Batch b = pairwise(x, labels);
  std::vector<int64_t> first, second;
  std::vector<double> different;
  for (int64_t i = 0; i < b.rows; ++i)
    for (int64_t j = i + 1; j < b.rows; ++j) {
      first.push_back(i);
      second.push_back(j);
      different.push_back(b.labels[size_t(i)] != b.labels[size_t(j)] ? 1.0 : 0.0);
    }
  const int64_t pairs = int64_t(first.size());
  Tensor d = pick(b, first, second);                                                    // (P)
  Tensor g = Tensor::from_vector(different, {pairs}, d.dtype(), d.device());
  Tensor hinge = clamp(add_scalar(neg(d), margin_), 1e-8, std::numeric_limits<double>::infinity());
  Tensor per_pair = loss_util::select(g, mul(hinge, hinge), mul(d, d));
  return {mul_scalar(sum(per_pair), 0.5 / double(pairs)), pair_eer(b), metric_kind()};
}

}  // namespace spk
