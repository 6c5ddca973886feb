// uniformity: CEL's uniformity loss (loss/uniform.py, Wang & Isola's L_uniform), t = uniform_t (2).
// With u = normalize(x) (CEL normalises the embeddings before its losses when the similarity loss is angular):
//   PoN (default): ½[log mean_{i<j} e^{−t‖u1_i − u1_j‖²} + log mean_{i<j} e^{−t‖u2_i − u2_j‖²}]  (views apart);
//   APN:           log mean_{i<j} e^{−t‖u_i − u_j‖²} over all 2N embeddings pooled;
//   AN:            log([Σ_{i<j} e^{..}(view 1) + Σ_{i<j} e^{..}(view 2) + Σ_{i≠j} e^{−t‖u1_i − u2_j‖²}] / (2N(N − 1))).
// Squared distances come from the matmul expansion (the pairs i = j are masked out, never used).
// No parameters and no metric (the reference returns 0). M = 2; N >= 2; test_normalize true.
#pragma once
#include "losses/loss.h"

namespace spk {

class UniformityLoss : public Loss {
 public:
  UniformityLoss(const LossConfig& config, Rng& rng);
  // normalize = false takes x as given (CELLoss normalises once for both of its terms).
  UniformityLoss(const LossConfig& config, bool normalize);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;

 private:
  double t_;
  std::string sample_;
  bool normalize_;
};

}  // namespace spk
