// contrastive: pyannote-audio's contrastive loss over every pair of the batch
// (pyannote/audio/embedding/approaches/contrastive_loss.py, class ContrastiveLoss; Hadsell, Chopra, LeCun,
// "Dimensionality Reduction by Learning an Invariant Mapping", CVPR 2006, as used in Coria et al., SLSP 2020).
//   d_ij = ½‖x̂_i − x̂_j‖² (pyannote_pairwise.h), g_ij = 1 when rows i and j have different labels, m' = margin·2;
//   L = Σ_{i<j} [(1 − g_ij)·d_ij² + g_ij·clamp(m' − d_ij, min = 1e-8)²] / 2 / P,  P = B(B − 1)/2 pairs.
// (pyannote's own "FIXME: why divide by 2?" is kept: the /2 is part of its definition.) margin 0.2
// (LossConfig::pyannote_contrastive_margin), so m' = 0.4. metric: the EER of −d over the pairs.
// No parameters. Input: x (N, M, D) with M >= 2, or (B, D) with labels (pyannote_pairwise.h). test_normalize true.
#pragma once
#include "losses/pyannote_pairwise.h"

namespace spk {

class ContrastiveLoss : public PyannotePairwiseLoss {
 public:
  ContrastiveLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;

 private:
  double margin_;   // m' = margin·max_distance
};

}  // namespace spk
