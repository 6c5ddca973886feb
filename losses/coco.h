// coco: pyannote-audio's congenerous cosine loss (pyannote/audio/embedding/approaches/coco_loss.py, classes
// CocoLinear and CongenerousCosineLoss; Liu et al., "Rethinking Feature Discrimination and Polymerization for
// Large-scale Recognition", 2017, as used in Coria et al., SLSP 2020).
//   z = α·x̂·ĉᵀ (F.normalize of the embeddings and of the centres, eps 1e-12);  L = CE(z, y);  metric: top-1 of z.
// Parameter: classifier.centers (nClasses, nOut), initialised N(0, 1) (torch.randn) and normalised only in the
// forward. α = 6.25 (LossConfig::pyannote_coco_alpha). M = 1; test_normalize true.
#pragma once
#include "losses/loss.h"

namespace spk {

// pyannote's CocoLinear module: the logits z (N, C) of x (N, D).
class CocoLinear : public Module {
 public:
  CocoLinear(int64_t nfeat, int64_t nclass, double alpha, Rng& rng, DType dtype);
  Tensor forward(const Tensor& x) const;
  Tensor centers;   // (nclass, nfeat)
  double alpha;
};

class CocoLoss : public Loss {
 public:
  CocoLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  std::shared_ptr<CocoLinear> classifier;
};

}  // namespace spk
