// anglecontrast: CEL's angular contrastive loss (msh9184/contrastive-equilibrium-learning loss/anglecontrast.py).
//   S_ik = cos(x[i, 1], x[k, 0]) (eps 1e-8),  L = ½[CE(w·S + b, i) + CE(w·Sᵀ + b, i)];
//   metric: the mean of the two directions' top-1.
// Parameters: scalars w (init 10), b (init −5), not clamped (the reference's clamp is a no-op). M = 2;
// test_normalize true.
#pragma once
#include "losses/loss.h"

namespace spk {

class AngleContrastLoss : public Loss {
 public:
  AngleContrastLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  Tensor w, b;   // ()
};

}  // namespace spk
