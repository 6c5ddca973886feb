// ssl_infonce: the one-directional InfoNCE of theolepage/ssl-for-slr's SimCLR (InfoNCELoss, TensorFlow).
//   Ẑ1 = l2_normalize(x[:, 0]), Ẑ2 = l2_normalize(x[:, 1]) with TensorFlow's rule x / max(‖x‖, 1e-6)
//   (epsilon 1e-12 on the squared norm); logits = Ẑ1 Ẑ2ᵀ / τ, τ = temperature (0.07, fixed);
//   L = Σ_i CE_i / N (rows only, no symmetric term);  metric: top-1 of the rows in % (the reference reports a
//   fraction). M = 2; test_normalize true (cosine scoring).
// With ssl_proj_layers > 0 the InfoNCE reads the projection head's outputs (ssl_projection.h, child "proj"),
// applied to each view's N embeddings on their own as ssl-for-slr does (so BN sees one view at a time);
// otherwise the loss has no parameters.
#pragma once
#include <memory>

#include "losses/loss.h"
#include "losses/ssl_projection.h"

namespace spk {

class SSLInfoNCELoss : public Loss {
 public:
  SSLInfoNCELoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  std::shared_ptr<ProjectionHead> head;   // null without ssl_proj_layers

 private:
  double temperature_;
  int64_t head_in_ = 0;
};

}  // namespace spk
