// ssl_infonce: the one-directional InfoNCE of theolepage/ssl-for-slr's SimCLR (InfoNCELoss, TensorFlow).
//   Ẑ1 = l2_normalize(x[:, 0]), Ẑ2 = l2_normalize(x[:, 1]) with TensorFlow's rule x / max(‖x‖, 1e-6)
//   (epsilon 1e-12 on the squared norm); logits = Ẑ1 Ẑ2ᵀ / τ, τ = temperature (0.07, fixed);
//   L = Σ_i CE_i / N (rows only, no symmetric term);  metric: top-1 of the rows in % (the reference reports a
//   fraction). M = 2; test_normalize true (cosine scoring).
// With ssl_proj_layers > 0 the InfoNCE reads the projection head's outputs (ssl_projection.h, child "proj"),
// applied to each view's N embeddings on their own as ssl-for-slr does (so BN sees one view at a time);
// otherwise the loss has no parameters.
// With vicreg_factor > 0 (--vicreg_factor) ssl-for-slr's VICReg terms are added (sslforslr/modules/VICReg.py,
// SimCLR.py train_step): total = InfoNCE + vicreg_factor * vicreg_loss(Za, Zb) on the head outputs (or the
// embeddings without a head) BEFORE the L2 normalisation, as SimCLR.py passes the un-normalised Z_1, Z_2 to both.
// With vicreg_factor 0 the InfoNCE is computed exactly as without the setting (the term is not built at all).
#pragma once
#include <memory>

#include "losses/loss.h"
#include "losses/ssl_projection.h"

namespace spk {

struct VICRegWeights {
  double inv = 1.0, var = 1.0, cov = 0.04;   // ssl-for-slr's vic_reg_{inv,var,cov}_weight
};

// VICReg of two (N, D) views, N >= 2 (ssl-for-slr VICReg.call):
//   inv = mean over N*D of (Za - Zb)^2;
//   var = mean_d relu(1 - sqrt(Var_d(Za) + 1e-4)) + the same for Zb, Var over the batch BIASED (divides by N:
//         tf.nn.moments, as the reference computes it);
//   cov = sum_{i != j} C_ij(Za)^2 / D + the same for Zb, C = Zcᵀ Zc / (N - 1) on the centred Zc (unbiased);
//   L = w.inv * inv + w.var * var + w.cov * cov.
Tensor vicreg_loss(const Tensor& za, const Tensor& zb, const VICRegWeights& w);

class SSLInfoNCELoss : public Loss {
 public:
  SSLInfoNCELoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  std::shared_ptr<ProjectionHead> head;   // null without ssl_proj_layers

 private:
  double temperature_;
  int64_t head_in_ = 0;
  double vicreg_factor_ = 0;
  VICRegWeights vicreg_weights_;
};

}  // namespace spk
