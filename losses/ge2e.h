// ge2e: generalised end-to-end loss, softmax form (voxceleb_trainer loss/ge2e.py; Wan et al.).
//   c_k = mean_j x[k, j]; exclusive centroid c_i^(−j) = mean_{j' ≠ j} x[i, j'];
//   S_(i,j),k = cos(x[i, j], c_k) for k ≠ i and cos(x[i, j], c_i^(−j)) for k = i (eps 1e-8);
//   S ← max(S, 1e-6)   — the reference clamps every cosine from below, so negative similarities become
//                         1e-6 and pass no gradient (loss/ge2e.py assigns torch.clamp(cos_sim_matrix, 1e-6);
//                         kept for parity);
//   z = w·S + b, rows ordered (i, j);  L = mean over the N·M rows of CE(z, i);  metric: top-1 over those rows.
// Parameters: scalars w (init 10), b (init −5); w is not clamped (the reference's torch.clamp(self.w, 1e-6)
// discards its result). M >= 2; test_normalize true.
#pragma once
#include "losses/loss.h"

namespace spk {

class GE2ELoss : public Loss {
 public:
  GE2ELoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  Tensor w, b;   // ()
};

}  // namespace spk
