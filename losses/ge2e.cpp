// GE2E loss; see ge2e.h. One GEMM for all N·M rows against the N centroids; the diagonal (own-speaker)
// entries are then replaced by the cosines against the exclusive centroids.
#include "losses/ge2e.h"

#include <limits>

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

GE2ELoss::GE2ELoss(const LossConfig& c, Rng&)
    : Loss("ge2e",
           {.per_speaker = PerSpeaker::at_least_two, .test_normalize = true, .metric = MetricKind::accuracy}) {
  loss_util::check_dtype(name(), c);
  w = register_parameter("w", Tensor::scalar(c.init_w, c.dtype));
  b = register_parameter("b", Tensor::scalar(c.init_b, c.dtype));
}

LossOutput GE2ELoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0), m = g.size(1), d = g.size(2);
  check_positional(labels, n);
  Tensor rows = reshape(g, {n * m, d});                                        // row i·M + j = x[i, j]
  Tensor total = sum(g, {1}, /*keepdim=*/true);                                // (N, 1, D)
  Tensor exclusive = reshape(div(sub(total, g), Tensor::scalar(double(m - 1), g.dtype(), g.device())), {n * m, d});
  Tensor centroids = squeeze(div(total, Tensor::scalar(double(m), g.dtype(), g.device())), 1);   // (N, D)
  Tensor target = loss_util::positional_labels(n, m, x.device());
  Tensor own = loss_util::one_hot(target, n, g.dtype());                       // (N·M, N)
  Tensor cos = loss_util::select(own, loss_util::row_cosine(rows, exclusive, 1e-8), cosine_matrix(rows, centroids, 1e-8));
  Tensor z = add(mul(clamp(cos, 1e-6, std::numeric_limits<double>::infinity()), w), b);
  return {cross_entropy(z, target), top1_accuracy(z, target), metric_kind()};
}

}  // namespace spk
