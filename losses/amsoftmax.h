// amsoftmax (CosFace / additive margin softmax; voxceleb_trainer loss/amsoftmax.py).
//   x̂ = x / max(‖x‖, 1e-12), Ŵ_c = W[:, c] / max(‖W[:, c]‖, 1e-12), cos = x̂ Ŵ;
//   z = s·(cos − m·onehot(y));  L = CE(z, y);  metric: top-1 of the margin logits z.
// Parameter: W (nOut, nClasses) — note the layout, transposed from aamsoftmax's — xavier_normal (gain 1).
// Class defaults m 0.3, s 15 never apply under voxceleb_trainer: its CLI passes margin 0.1, scale 30.
// M = 1; test_normalize true. set_margin() changes m (margin schedules).
#pragma once
#include "losses/loss.h"

namespace spk {

class AMSoftmaxLoss : public Loss {
 public:
  AMSoftmaxLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  bool has_margin() const override { return true; }
  double margin() const override { return m_; }
  void set_margin(double m) override;
  double scale() const { return s_; }

  Tensor W;   // (nOut, nClasses)

 private:
  double m_, s_;
};

}  // namespace spk
