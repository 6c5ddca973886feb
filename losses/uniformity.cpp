// CEL uniformity loss; see uniformity.h.
#include "losses/uniformity.h"

#include <cmath>

#include "engine/ops.h"
#include "losses/common.h"

namespace spk {

namespace {

// Which pairs (i, j) a sum runs over: i < j (one view with itself) or i != j (one view against the other).
enum class Pairs { upper, off_diagonal };

// (n, n) 0/1 mask of those pairs.
Tensor pair_mask(int64_t n, Pairs pairs, DType dtype, Device device) {
  std::vector<double> v(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) v[size_t(i * n + j)] = (pairs == Pairs::upper ? j > i : j != i) ? 1.0 : 0.0;
  return Tensor::from_vector(v, {n, n}, dtype, device);
}

// Σ over the chosen pairs of exp(−t‖a_i − b_j‖²).
Tensor kernel_sum(const Tensor& a, const Tensor& b, double t, Pairs pairs) {
  Tensor k = exp(mul_scalar(loss_util::sq_distance_matrix(a, b), -t));
  return sum(mul(k, pair_mask(a.size(0), pairs, a.dtype(), a.device())));
}

}  // namespace

UniformityLoss::UniformityLoss(const LossConfig& c, Rng&) : UniformityLoss(c, /*normalize=*/true) {}

UniformityLoss::UniformityLoss(const LossConfig& c, bool normalize)
    : Loss("uniformity",
           {.per_speaker = PerSpeaker::exactly_two, .test_normalize = true, .metric = MetricKind::none}),
      t_(c.uniform_t), sample_(c.sample_type), normalize_(normalize) {
  SPK_CHECK(sample_ == "PoN" || sample_ == "APN" || sample_ == "AN", name(), ": sample_type '", sample_,
            "' (PoN, APN or AN expected)");
  SPK_CHECK(std::isfinite(t_) && t_ > 0, name(), ": uniform_t ", t_, " must be positive");
}

LossOutput UniformityLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0), d = g.size(2);
  SPK_CHECK(n >= 2, name(), ": needs at least 2 speakers per batch (pairs i < j), got ", x.str());
  if (normalize_) g = l2_normalize(g, 2, 1e-12);
  Tensor u1 = loss_util::group_member(g, 0), u2 = loss_util::group_member(g, 1);
  const double pairs = double(n * (n - 1)) / 2;
  Tensor loss;
  if (sample_ == "PoN") {
    loss = mul_scalar(add(log(mul_scalar(kernel_sum(u1, u1, t_, Pairs::upper), 1 / pairs)),
                          log(mul_scalar(kernel_sum(u2, u2, t_, Pairs::upper), 1 / pairs))), 0.5);
  } else if (sample_ == "APN") {
    Tensor all = reshape(g, {2 * n, d});
    loss = log(mul_scalar(kernel_sum(all, all, t_, Pairs::upper), 1 / (double(2 * n * (2 * n - 1)) / 2)));
  } else {
    Tensor within = add(kernel_sum(u1, u1, t_, Pairs::upper), kernel_sum(u2, u2, t_, Pairs::upper));
    Tensor s = add(within, kernel_sum(u1, u2, t_, Pairs::off_diagonal));
    loss = log(mul_scalar(s, 1 / (4 * pairs)));
  }
  return {loss, 0.0, metric_kind()};
}

}  // namespace spk
