// Triplet loss with hard-negative mining; see triplet.h.
#include "losses/triplet.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

TripletLoss::TripletLoss(const LossConfig& c, Rng&)
    : Loss("triplet",
           {.per_speaker = PerSpeaker::exactly_two, .test_normalize = true, .metric = MetricKind::eer}),
      hard_rank_(c.hard_rank), hard_prob_(c.hard_prob), margin_(c.margin),
      rng_(c.rng ? c.rng : std::make_shared<Rng>(c.seed)) {
  SPK_CHECK(c.hard_prob >= 0 && c.hard_prob <= 1, name(), ": hard_prob ", c.hard_prob, " must be in [0, 1]");
  SPK_CHECK(std::isfinite(c.margin), name(), ": margin ", c.margin, " must be finite");
}

std::vector<int64_t> TripletLoss::mine_negatives(const std::vector<double>& sim, int64_t n) {
  SPK_CHECK(int64_t(sim.size()) == n * n, name(), ": mining needs an N×N similarity matrix");
  if (hard_rank_ >= 0) {
    SPK_CHECK(n >= 2, name(), ": needs at least 2 speakers per batch to pick a negative, got ", n);
    SPK_CHECK(hard_prob_ == 0 || n - 1 >= hard_rank_ + 1, name(), ": hard_rank ", hard_rank_,
              " needs at least hard_rank + 2 = ", hard_rank_ + 2, " speakers per batch, got ", n);
  }
  std::vector<int64_t> out;
  std::vector<int64_t> order(size_t(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    const double* s = &sim[size_t(i * n)];
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [s](int64_t a, int64_t b) { return s[a] > s[b]; });
    if (hard_rank_ < 0) {
      std::vector<int64_t> semi;
      for (int64_t k : order)
        if (s[i] - margin_ < s[k] && s[k] < s[i]) semi.push_back(k);
      const auto& pool = semi.empty() ? order : semi;
      out.push_back(pool[size_t(rng_->randint(0, int64_t(pool.size())))]);
    } else {
      std::vector<int64_t> rest;
      for (int64_t k : order)
        if (k != i) rest.push_back(k);
      const bool hard = rng_->uniform() < hard_prob_;
      out.push_back(rest[size_t(rng_->randint(0, hard ? hard_rank_ + 1 : int64_t(rest.size())))]);
    }
  }
  return out;
}

LossOutput TripletLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0);
  check_positional(labels, n);
  Tensor anchor = l2_normalize(loss_util::group_member(g, 0), 1, 1e-12);
  Tensor positive = l2_normalize(loss_util::group_member(g, 1), 1, 1e-12);
  std::vector<double> sim;
  {
    NoGradGuard ng;
    sim = neg(loss_util::sq_distance_matrix(add_scalar(anchor.detach(), 1e-6), positive.detach())).to_double();
  }
  std::vector<int64_t> neg_idx = mine_negatives(sim, n);
  // p[k*] as a one-hot selection matmul: exact (one product per entry), and it runs on every device the
  // matmul does.
  Tensor pick = loss_util::one_hot(Tensor::from_vector(neg_idx, {n}, x.device()), n, positive.dtype());
  Tensor negative = matmul(pick, positive);
  Tensor pos2 = loss_util::row_sq_distance(anchor, positive, 1e-6), neg2 = loss_util::row_sq_distance(anchor, negative, 1e-6);
  Tensor loss = mean(relu(add_scalar(sub(pos2, neg2), margin_)));

  std::vector<double> p = pos2.to_double(), q = neg2.to_double(), scores;
  std::vector<int> truth;
  for (double v : p) { scores.push_back(-std::sqrt(v)); truth.push_back(1); }
  for (double v : q) { scores.push_back(-std::sqrt(v)); truth.push_back(0); }
  return {loss, vt_eer(scores, truth).eer, metric_kind()};
}

}  // namespace spk
