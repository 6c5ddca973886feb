// pyannote_triplet: pyannote-audio's triplet loss with its clamps and samplings
// (pyannote/audio/embedding/approaches/triplet_loss.py, class TripletLoss, as used in Coria et al., SLSP 2020).
// voxceleb_trainer's `triplet` (losses/triplet.h) is a different loss and stays as it is.
//   d = ½‖x̂_i − x̂_j‖² (pyannote_pairwise.h);  Δ = d(a, p) − d(a, n);  m' = margin·2 (margin 0.2 -> 0.4);
//   clamp "positive" (default):  max(Δ + m', 0)
//         "softmargin":          log(1 + exp Δ)        (no margin, as the reference)
//         "sigmoid":             sigmoid(10·(Δ + m'))
//   L = mean over the sampled triplets (a, p, n): a ≠ p with label(p) = label(a), label(n) ≠ label(a).
// Samplings, chosen on the host from the detached d (ties go to the first row, as numpy's argmax / argmin):
//   "all" (default)  every valid triplet;
//   "hard"           per anchor, its farthest positive and its nearest negative;
//   "negative"       per anchor, its nearest negative with each of its positives;
//   "easy"           every valid triplet with d(a, p) <= d(a, n).
// Where pyannote raises (hard: an anchor without positive; hard, negative: an anchor without negative) such
// anchors are skipped. A batch with no valid triplet at all (every speaker once, one speaker only, or "easy"
// with none easy) gives loss 0 with zero gradients and a LossOutput::warning naming the sampling and the
// batch, where pyannote's torch.mean of nothing is NaN. metric: the EER of −d over the pairs.
// No parameters. Input: x (N, M, D) with M >= 2, or (B, D) with labels (pyannote_pairwise.h). test_normalize true.
#pragma once
#include <array>

#include "losses/pyannote_pairwise.h"

namespace spk {

enum class TripletClamp { positive, softmargin, sigmoid };
enum class TripletSampling { all, hard, negative, easy };

// The sampled triplets (anchor, positive, negative) of rows with labels y and distances dist (B×B row-major,
// symmetric; only i != j entries are read), in pyannote's order (by anchor, then positive, then negative).
std::vector<std::array<int64_t, 3>> sample_triplets(TripletSampling sampling, const std::vector<int64_t>& labels,
                                                    const std::vector<double>& dist);

class PyannoteTripletLoss : public PyannotePairwiseLoss {
 public:
  PyannoteTripletLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  TripletClamp clamp() const { return clamp_; }
  TripletSampling sampling() const { return sampling_; }
  int64_t last_triplets() const { return last_triplets_; }   // triplets of the latest forward (-1 before any)

 private:
  TripletClamp clamp_;
  TripletSampling sampling_;
  double margin_;   // m' = margin·max_distance
  int64_t last_triplets_ = -1;
};

}  // namespace spk
