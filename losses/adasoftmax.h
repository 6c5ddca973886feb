// adasoftmax: AdaCos (CEL fine-tuning loss/adacos.py, after wujiyang/Face_Pytorch).
//   cos = normalize(x)·normalize(W)ᵀ;  z = s·cos;  L = CE(z, y);  metric: top-1 of z.
// The scale adapts once per training batch, without gradient, before the logits are formed:
//   B = Σ_{i, c ≠ y_i} exp(s_old·cos_ic) / N,   θ_med = median_i acos(clamp(cos_{i,y_i}, −1 + 1e-7, 1 − 1e-7)),
//   s = ln B / cos(min(π/4, θ_med)),
// with torch.median's lower median for an even count. s starts at √2·ln(nClasses − 1). The update runs only
// in training mode (CEL calls the loss only while training); eval() freezes s. s is plain state, not a
// parameter or buffer (a PyTorch checkpoint does not hold it either): scale()/set_scale() expose it for
// resuming. The class's m = 0.5 is never used by AdaCos and is not kept.
// Parameter: W (nClasses, nOut), xavier_uniform. M = 1; test_normalize true.
#pragma once
#include "losses/loss.h"

namespace spk {

class AdaCosLoss : public Loss {
 public:
  AdaCosLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  double scale() const { return s_; }
  void set_scale(double s) { s_ = s; }

  Tensor W;   // (nClasses, nOut)

 private:
  double s_;
};

}  // namespace spk
