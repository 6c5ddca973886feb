// angleproto: angular prototypical loss (voxceleb_trainer loss/angleproto.py; CEL's A-Prot).
//   q_i = x[i, 0], c_k = mean_{j >= 1} x[k, j], S_ik = cos(q_i, c_k) (eps 1e-8),
//   z = w·S + b,  L = CE(z, i);  metric: top-1 of z.
// Parameters: scalars w (init 10), b (init −5). The reference's torch.clamp(self.w, 1e-6) discards its result,
// so w is not constrained here either (voxceleb_trainer loss/angleproto.py). M >= 2; test_normalize true.
#pragma once
#include "losses/loss.h"

namespace spk {

class AngleProtoLoss : public Loss {
 public:
  AngleProtoLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  Tensor w, b;   // ()
};

}  // namespace spk
