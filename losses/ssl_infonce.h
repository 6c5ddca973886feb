// ssl_infonce: the one-directional InfoNCE of theolepage/ssl-for-slr's SimCLR (InfoNCELoss, TensorFlow).
//   Ẑ1 = l2_normalize(x[:, 0]), Ẑ2 = l2_normalize(x[:, 1]) with TensorFlow's rule x / max(‖x‖, 1e-6)
//   (epsilon 1e-12 on the squared norm); logits = Ẑ1 Ẑ2ᵀ / τ, τ = temperature (0.07, fixed);
//   L = Σ_i CE_i / N (rows only, no symmetric term);  metric: top-1 of the rows in % (the reference reports a
//   fraction). No parameters. M = 2; test_normalize true (cosine scoring).
#pragma once
#include "losses/loss.h"

namespace spk {

class SSLInfoNCELoss : public Loss {
 public:
  SSLInfoNCELoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;

 private:
  double temperature_;
};

}  // namespace spk
