// ssl-for-slr SimCLR InfoNCE; see ssl_infonce.h.
#include "losses/ssl_infonce.h"

#include <cmath>

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

namespace {

// mean_d relu(1 - sqrt(Var_d + 1e-4)) and sum_{i != j} C_ij^2 / D of one view (see vicreg_loss).
Tensor vicreg_variance(const Tensor& z) {
  Tensor std_dev = sqrt(add_scalar(var(z, {0}, /*unbiased=*/false), 1e-4));
  return mean(relu(add_scalar(neg(std_dev), 1.0)));
}

Tensor vicreg_covariance(const Tensor& z, const Tensor& off_diagonal) {
  const int64_t n = z.size(0), d = z.size(1);
  Tensor zc = sub(z, mean(z, {0}, /*keepdim=*/true));
  Tensor cov = mul_scalar(matmul(transpose(zc, 0, 1), zc), 1.0 / double(n - 1));
  return mul_scalar(sum(mul(pow_scalar(cov, 2), off_diagonal)), 1.0 / double(d));
}

}  // namespace

Tensor vicreg_loss(const Tensor& za, const Tensor& zb, const VICRegWeights& w) {
  SPK_CHECK(za.dim() == 2 && za.shape() == zb.shape(), "vicreg: the two views must be (N, D) alike, got ", za.str(),
            " and ", zb.str());
  const int64_t n = za.size(0), d = za.size(1);
  SPK_CHECK(n >= 2, "vicreg: the variance over the batch needs N >= 2 rows per view, got ", n);
  std::vector<double> mask(size_t(d * d), 1.0);
  for (int64_t i = 0; i < d; ++i) mask[size_t(i * d + i)] = 0.0;
  Tensor off_diagonal = Tensor::from_vector(mask, {d, d}, za.dtype(), za.device());
  Tensor inv = mean(pow_scalar(sub(za, zb), 2));
  Tensor var_term = add(vicreg_variance(za), vicreg_variance(zb));
  Tensor cov_term = add(vicreg_covariance(za, off_diagonal), vicreg_covariance(zb, off_diagonal));
  return add(add(mul_scalar(inv, w.inv), mul_scalar(var_term, w.var)), mul_scalar(cov_term, w.cov));
}

SSLInfoNCELoss::SSLInfoNCELoss(const LossConfig& c, Rng& rng)
    : Loss("ssl_infonce",
           {.per_speaker = PerSpeaker::exactly_two, .test_normalize = true, .metric = MetricKind::accuracy}),
      temperature_(c.ssl_temperature),
      vicreg_factor_(c.vicreg_factor),
      vicreg_weights_{c.vicreg_inv_weight, c.vicreg_var_weight, c.vicreg_cov_weight} {
  for (const auto& [v, setting] : {std::pair{vicreg_factor_, "vicreg_factor"}, {vicreg_weights_.inv, "vicreg_inv_weight"},
                                   {vicreg_weights_.var, "vicreg_var_weight"}, {vicreg_weights_.cov, "vicreg_cov_weight"}})
    SPK_CHECK(std::isfinite(v) && v >= 0, name(), ": ", setting, " ", v, " must be 0 or more");
  SPK_CHECK(std::isfinite(temperature_) && temperature_ > 0, name(), ": ssl_temperature ", temperature_,
            " must be positive");
  SPK_CHECK(c.ssl_proj_layers >= 0, name(), ": ssl_proj_layers ", c.ssl_proj_layers, " must be 0 (no head) or more");
  if (c.ssl_proj_layers > 0) {
    head_in_ = c.nOut;
    head = register_module("proj", std::make_shared<ProjectionHead>(c.nOut, c.ssl_proj_dim, c.ssl_proj_layers, rng,
                                                                     c.dtype));
  }
}

LossOutput SSLInfoNCELoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0);
  check_positional(labels, n);
  Tensor v1 = loss_util::group_member(g, 0), v2 = loss_util::group_member(g, 1);
  if (head) {
    SPK_CHECK(g.size(2) == head_in_, name(), ": embedding size ", g.size(2), " of ", x.str(),
              " does not match the projection head's input nOut ", head_in_);
    v1 = head->forward(v1);
    v2 = head->forward(v2);
  }
  Tensor z1 = l2_normalize(v1, 1, 1e-6), z2 = l2_normalize(v2, 1, 1e-6);
  Tensor logits = div(matmul(z1, transpose(z2, 0, 1)), Tensor::scalar(temperature_, g.dtype(), g.device()));
  Tensor target = loss_util::positional_labels(n, 1, x.device());
  Tensor loss = cross_entropy(logits, target);
  if (vicreg_factor_ > 0) {   // on v1, v2 before the normalisation (SimCLR.py); factor 0 leaves `loss` untouched
    SPK_CHECK(n >= 2, name(), ": vicreg_factor ", vicreg_factor_, " needs at least 2 utterances per batch (the "
              "variance is over the batch), got ", n);
    loss = add(loss, mul_scalar(vicreg_loss(v1, v2, vicreg_weights_), vicreg_factor_));
  }
  return {loss, top1_accuracy(logits, target), metric_kind()};
}

}  // namespace spk
