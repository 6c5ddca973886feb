// pyannote_softmax: pyannote-audio's plain classification loss (pyannote/audio/embedding/approaches/
// classification.py, class Classification; the "softmax" of Coria et al., SLSP 2020).
//   z = x Wᵀ (+ b when classifier_bias);  L = NLL(LogSoftmax(z), y) = CE(z, y);  metric: top-1 of z.
// Parameter: classifier.weight (nClasses, nOut) (and classifier.bias), nn.Linear's default init; no bias by
// default (LossConfig::pyannote_classifier_bias false), where voxceleb_trainer's softmax has one.
// M = 1; test_normalize true.
#pragma once
#include "engine/layers.h"
#include "losses/loss.h"

namespace spk {

class PyannoteSoftmaxLoss : public Loss {
 public:
  PyannoteSoftmaxLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  std::shared_ptr<Linear> classifier;
};

}  // namespace spk
