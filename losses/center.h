// center: pyannote-audio's center loss (pyannote/audio/embedding/approaches/center_loss.py, classes
// CenterDistanceModule and CenterLoss; Wen et al., "A Discriminative Feature Learning Approach for Deep Face
// Recognition", ECCV 2016, in its cosine form, as used in Coria et al., SLSP 2020).
//   L_cls = CE(x Wᵀ, y)                                       (a linear classifier without bias on raw x)
//   L_ctr = Σ_i (1 − cos(x_i, c_{y_i}))² / 2 / N             (F.cosine_similarity, eps 1e-8)
//   L = L_cls + λ·L_ctr,  λ = 1 (LossConfig::pyannote_center_loss_weight);  metric: top-1 of x Wᵀ.
// The centres are learnable parameters trained by the same optimiser as the network (pyannote returns them
// from more_parameters()), not updated by the moving-average rule of Wen et al.
// Parameters, under pyannote's attribute names: classifier.weight (nClasses, nOut), nn.Linear's default init;
// center_dist.centers (nClasses, nOut), N(0, 1) (torch.randn). (pyannote saves them to the files
// {epoch}.classifier.pt and {epoch}.centers.pt, whose keys are "weight" and "centers".) M = 1; test_normalize true.
#pragma once
#include "engine/layers.h"
#include "losses/loss.h"

namespace spk {

// pyannote's CenterDistanceModule: L_ctr of x (N, D) for labels y (N) i64, a () tensor.
class CenterDistance : public Module {
 public:
  CenterDistance(int64_t nfeat, int64_t nclass, Rng& rng, DType dtype);
  Tensor forward(const Tensor& x, const Tensor& labels) const;
  Tensor centers;   // (nclass, nfeat)
};

class CenterLoss : public Loss {
 public:
  CenterLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  double loss_weight() const { return loss_weight_; }

  std::shared_ptr<Linear> classifier;
  std::shared_ptr<CenterDistance> center_dist;

 private:
  double loss_weight_;
};

}  // namespace spk
