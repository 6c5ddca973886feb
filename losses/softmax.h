// softmax: a linear classifier and cross-entropy (voxceleb_trainer loss/softmax.py).
//   z = x Wᵀ + b (nn.Linear(nOut, nClasses), PyTorch's default init);  L = CE(z, y);  metric: top-1 of z.
// Parameters: fc.weight (nClasses, nOut), fc.bias (nClasses). M = 1; test_normalize true.
#pragma once
#include "engine/layers.h"
#include "losses/loss.h"

namespace spk {

class SoftmaxLoss : public Loss {
 public:
  SoftmaxLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  std::shared_ptr<Linear> fc;
};

}  // namespace spk
