// AdaCos; see adasoftmax.h.
#include "losses/adasoftmax.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/init.h"
#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

namespace {
constexpr double kQuarterPi = 0.78539816339744830962;
}  // namespace

AdaCosLoss::AdaCosLoss(const LossConfig& c, Rng& rng)
    : Loss("adasoftmax",
           {.per_speaker = PerSpeaker::one, .test_normalize = true, .metric = MetricKind::accuracy}) {
  loss_util::check_classifier(name(), c);
  s_ = std::sqrt(2.0) * std::log(double(c.nClasses - 1));
  W = register_parameter("W", Tensor::empty({c.nClasses, c.nOut}, c.dtype));
  xavier_uniform_(W, rng, 1.0);
}

LossOutput AdaCosLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor xr = as_rows(x, labels, W.size(1));
  Tensor cos = linear(l2_normalize(xr, 1, 1e-12), l2_normalize(W, 1, 1e-12));   // (N, C)
  if (is_training()) {
    NoGradGuard ng;
    Tensor c = cos.detach();
    Tensor onehot = loss_util::one_hot(labels, W.size(0), c.dtype());
    const double b_avg = sum(mul(exp(mul_scalar(c, s_)), add_scalar(neg(onehot), 1.0))).item() / double(xr.size(0));
    std::vector<double> theta = sum(mul(c, onehot), {1}).to_double();
    for (double& t : theta) t = std::acos(std::clamp(t, -1.0 + 1e-7, 1.0 - 1e-7));
    std::sort(theta.begin(), theta.end());
    const double theta_med = theta[(theta.size() - 1) / 2];   // torch.median: the lower of the two middles
    s_ = std::log(b_avg) / std::cos(std::min(kQuarterPi, theta_med));
    if (c.dtype() == DType::f32) s_ = double(float(s_));      // PyTorch keeps s as an f32 tensor
  }
  Tensor z = mul_scalar(cos, s_);
  return {cross_entropy(z, labels), top1_accuracy(z, labels), metric_kind()};
}

}  // namespace spk
