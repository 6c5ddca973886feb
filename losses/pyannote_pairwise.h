// Shared by pyannote-audio's pair and triplet losses (contrastive, pyannote_triplet): the batch as labelled rows
// and the cosine distance between every two rows, as pyannote/audio/embedding/approaches/base.py's
// RepresentationLearning.pdist with metric "cosine":
//   d_ij = ½‖x̂_i − x̂_j‖²  (x̂ = F.normalize(x), eps 1e-12; = 1 − cos for non-zero rows), in [0, max_distance = 2].
// d is formed once as an (B, B) matrix by the matmul expansion ½(‖x̂_i‖² + ‖x̂_j‖² − 2 x̂_i·x̂_j) and read only
// above the diagonal (i < j), so d_ij and d_ji are the same number, as in pyannote's condensed pdist vector.
//
// Batch layout: x (N, M, D) with labels (N) (or undefined: row group i is speaker i) gives B = N·M rows whose
// labels are their group's; x (B, D) with labels (B) takes pyannote's own layout, where any label may repeat.
// Labels only say which rows share a speaker, so they need not be distinct or below nClasses.
#pragma once
#include <vector>

#include "losses/loss.h"

namespace spk {

class PyannotePairwiseLoss : public Loss {
 public:
  using Loss::Loss;

 protected:
  static constexpr double kMaxDistance = 2.0;   // base.py max_distance for metric "cosine"

  struct Batch {
    int64_t rows = 0;               // B
    std::vector<int64_t> labels;    // (B) on the host
    Tensor dist;                    // (B, B) d_ij on x's device, differentiable; read only where i < j
    std::vector<double> host;       // dist, detached, on the host (row-major)
    double at(int64_t i, int64_t j) const {   // d_ij for i != j, from above the diagonal
      return i < j ? host[size_t(i * rows + j)] : host[size_t(j * rows + i)];
    }
  };
  // Checks the input (see the file comment; at least two rows) and computes d.
  Batch pairwise(const Tensor& x, const Tensor& labels) const;
  // The differentiable d of the pairs (first[k], second[k]) (k-th entry; first != second), read above the diagonal.
  static Tensor pick(const Batch& b, const std::vector<int64_t>& first, const std::vector<int64_t>& second);
  // The training metric: the EER (%, vt_eer) of the scores −d_ij over all pairs i < j, target when the labels
  // agree; 0 when the batch has no same-speaker pair or no different-speaker pair.
  static double pair_eer(const Batch& b);
};

}  // namespace spk
