// triplet: triplet loss with hard-negative mining (voxceleb_trainer loss/triplet.py).
//   a_i = normalize(x[i, 0]), p_i = normalize(x[i, 1]);
//   mining similarities S_ik = −‖a_i − p_k + 1e-6‖² on the intended N×N matrix (the reference's
//   F.pairwise_distance trick no longer builds it on PyTorch >= 1.10, pytorch/pytorch PR #64882);
//   the negative of row i is p_{k*}, k* chosen on the host from the detached S, with S_i· sorted descending:
//     hard_rank < 0 (semi-hard): uniformly among k with S_ii − margin < S_ik < S_ii; if there is none,
//                                uniformly among all N columns (k = i included, as the reference);
//     hard_rank >= 0:            drop k = i; with probability hard_prob one of the hard_rank + 1 most similar,
//                                otherwise one of the N − 1 uniformly;
//   L = mean_i relu(‖a_i − p_i + 1e-6‖² − ‖a_i − p_k* + 1e-6‖² + margin);
//   metric: the EER (%) of the scores −[pos distances; neg distances] (vt_eer), the "TEER" of the reference.
// The random draws (one uniform for the hard/uniform choice, then one integer) come from the config's Rng, or
// a private Rng(seed); reset it to repeat a choice. Equal similarities are ordered by column (stable sort),
// where torch.sort leaves ties unspecified. No parameters. M = 2; test_normalize true.
#pragma once
#include "losses/loss.h"

namespace spk {

class TripletLoss : public Loss {
 public:
  TripletLoss(const LossConfig& config, Rng& init_rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  // The chosen negative column of each row from S (N×N, row-major); exposed for tests.
  std::vector<int64_t> mine_negatives(const std::vector<double>& sim, int64_t n);
  Rng& rng() { return *rng_; }

 private:
  int64_t hard_rank_;
  double hard_prob_, margin_;
  std::shared_ptr<Rng> rng_;
};

}  // namespace spk
