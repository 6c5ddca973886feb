// proto: prototypical loss (voxceleb_trainer loss/proto.py; Snell et al.).
//   query q_i = x[i, 0], prototype c_k = mean_{j >= 1} x[k, j],
//   z_ik = −‖q_i − c_k + 1e-6‖²  (F.pairwise_distance's eps, on the intended N×N matrix: the reference's
//   pairwise_distance broadcasting trick no longer builds it on PyTorch >= 1.10, pytorch/pytorch PR #64882,
//   https://github.com/clovaai/voxceleb_trainer/issues/144),
//   L = CE(z, i);  metric: top-1 of z against the positional targets.
// No parameters. M >= 2; test_normalize **false** (evaluation scores un-normalised embeddings).
#pragma once
#include "losses/loss.h"

namespace spk {

class ProtoLoss : public Loss {
 public:
  ProtoLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
};

}  // namespace spk
