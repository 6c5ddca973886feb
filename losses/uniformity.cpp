// CEL uniformity loss; see uniformity.h.
#include "losses/uniformity.h"

#include <cmath>

#include "engine/ops.h"
#include "losses/common.h"

namespace spk {

namespace {

// (n, n) 0/1 mask of the pairs i < j (upper) or i != j (off-diagonal).
Tensor pair_mask(int64_t n, bool upper_only, DType dtype, Device device) {
  std::vector<double> v(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) v[size_t(i * n + j)] = (upper_only ? j > i : j != i) ? 1.0 : 0.0;
  return Tensor::from_vector(v, {n, n}, dtype, device);
}

// Σ over the masked pairs of exp(−t‖a_i − b_j‖²).
Tensor kernel_sum(const Tensor& a, const Tensor& b, double t, bool upper_only) {
  Tensor k = exp(mul_scalar(loss_util::sq_distance_matrix(a, b), -t));
  return sum(mul(k, pair_mask(a.size(0), upper_only, a.dtype(), a.device())));
}

}  // namespace

UniformityLoss::UniformityLoss(const LossConfig& c, Rng&) : UniformityLoss(c, true) {}

UniformityLoss::UniformityLoss(const LossConfig& c, bool normalize)
    : Loss("uniformity", PerSpeaker::exactly_two, true, MetricKind::none), t_(c.uniform_t), sample_(c.uniform_sample),
      normalize_(normalize) {
  SPK_CHECK(sample_ == "PoN" || sample_ == "APN" || sample_ == "AN", name(), ": uniform_sample '", sample_,
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
    loss = mul_scalar(add(log(mul_scalar(kernel_sum(u1, u1, t_, true), 1 / pairs)),
                          log(mul_scalar(kernel_sum(u2, u2, t_, true), 1 / pairs))), 0.5);
  } else if (sample_ == "APN") {
    Tensor all = reshape(g, {2 * n, d});
    loss = log(mul_scalar(kernel_sum(all, all, t_, true), 1 / (double(2 * n * (2 * n - 1)) / 2)));
  } else {
    Tensor s = add(add(kernel_sum(u1, u1, t_, true), kernel_sum(u2, u2, t_, true)), kernel_sum(u1, u2, t_, false));
    loss = log(mul_scalar(s, 1 / (4 * pairs)));
  }
  return {loss, 0.0, metric_kind()};
}

}  // namespace spk
