// Labelled rows and pyannote's cosine pdist; see pyannote_pairwise.h.
#include "losses/pyannote_pairwise.h"

#include <algorithm>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

PyannotePairwiseLoss::Batch PyannotePairwiseLoss::pairwise(const Tensor& x, const Tensor& labels) const {
  Batch b;
  Tensor rows;
  if (x.defined() && x.dim() == 2) {
    SPK_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == x.size(0),
              name(), ": embeddings (B, D) need labels i64 (", x.size(0), "), got ",
              labels.defined() ? labels.str() : std::string("undefined"));
    rows = x;
    b.labels = labels.to_vector<int64_t>();
  } else {
    Tensor g = as_groups(x);
    const int64_t n = g.size(0), m = g.size(1);
    if (labels.defined()) {
      SPK_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == n, name(),
                ": labels must be i64 (", n, ") for embeddings ", x.str(), ", got ", labels.str());
      b.labels = loss_util::repeat_interleave(labels, m).to_vector<int64_t>();
    } else {
      b.labels = loss_util::positional_labels(n, m, Device::cpu()).to_vector<int64_t>();
    }
    rows = reshape(contiguous(g), {n * m, g.size(2)});
  }
  b.rows = rows.size(0);
  SPK_CHECK(b.rows >= 2 && rows.size(1) >= 1, name(), ": needs at least two embeddings to compare, got ", x.str());
  Tensor unit = l2_normalize(rows, 1, 1e-12);
  b.dist = mul_scalar(loss_util::sq_distance_matrix(unit, unit), 0.5);
  {
    NoGradGuard ng;
    b.host = b.dist.detach().to_double();
  }
  return b;
}

Tensor PyannotePairwiseLoss::pick(const Batch& b, const std::vector<int64_t>& first, const std::vector<int64_t>& second) {
  std::vector<int64_t> flat(first.size());
  for (size_t k = 0; k < first.size(); ++k)
    flat[k] = std::min(first[k], second[k]) * b.rows + std::max(first[k], second[k]);
  Tensor index = Tensor::from_vector(flat, {int64_t(flat.size())}, b.dist.device());
  return index_select(reshape(b.dist, {b.rows * b.rows}), 0, index);
}

double PyannotePairwiseLoss::pair_eer(const Batch& b) {
  std::vector<double> scores;
  std::vector<int> truth;
  bool target = false, nontarget = false;
  for (int64_t i = 0; i < b.rows; ++i)
    for (int64_t j = i + 1; j < b.rows; ++j) {
      const bool same = b.labels[size_t(i)] == b.labels[size_t(j)];
      scores.push_back(-b.at(i, j));
      truth.push_back(same ? 1 : 0);
      (same ? target : nontarget) = true;
    }
  return target && nontarget ? vt_eer(scores, truth).eer : 0.0;
}

}  // namespace spk
