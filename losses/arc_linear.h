// arc_linear: pyannote-audio's additive angular margin (ArcFace) classifier and loss
// (pyannote/audio/embedding/approaches/arcface_loss.py, classes ArcLinear and AdditiveAngularMarginLoss; the AAM
// of Coria et al., SLSP 2020).
//   cos_j = x̂·Ŵ_j (F.normalize, eps 1e-12);  t = clamp(cos_y, −1 + 1e-4, 1 − 1e-4);
//   cos(θ_y + m) = t·cos m − sqrt(1 − t²)·sin m       (θ_y = acos t ∈ [0, π], so sin θ_y = sqrt(1 − t²));
//   z = s·(cos + onehot·(cos(θ_y + m) − t));  L = NLL(LogSoftmax(z), y) = CE(z, y);  metric: top-1 of z.
// Unlike voxceleb_trainer's aamsoftmax there is no cos(π − m) threshold: past θ_y = π − m the target logit
// turns back up, as in pyannote. The target column keeps the unclamped cos_y in `cos` and subtracts the clamped
// t, exactly as the reference (the two cancel unless |cos_y| > 1 − 1e-4).
// Parameter: classifier.W (nClasses, nOut), xavier_uniform (gain 1), no bias. Defaults m 0.1, s 7
// (LossConfig::pyannote_aam_margin / pyannote_aam_scale). M = 1; test_normalize true. set_margin() changes m.
#pragma once
#include "losses/loss.h"

namespace spk {

// pyannote's ArcLinear module: the margin logits z (N, C) of x (N, D) for labels y (N) i64.
class ArcLinear : public Module {
 public:
  ArcLinear(int64_t nfeat, int64_t nclass, double margin, double s, Rng& rng, DType dtype);
  Tensor forward(const Tensor& x, const Tensor& labels) const;
  Tensor W;   // (nclass, nfeat)
  double margin, s;
};

class ArcLinearLoss : public Loss {
 public:
  ArcLinearLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  bool has_margin() const override { return true; }
  double margin() const override { return classifier->margin; }
  void set_margin(double m) override;

  std::shared_ptr<ArcLinear> classifier;
};

}  // namespace spk
