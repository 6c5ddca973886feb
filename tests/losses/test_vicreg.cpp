// ssl_infonce's optional VICReg terms (--vicreg_factor, ssl-for-slr sslforslr/modules/VICReg.py): the term on
// hand-worked inputs, against an independent double loop inside the loss, finite-difference gradients (input and
// projection head), factor 0 bit-identical to the plain InfoNCE, and the refusals naming the setting.
#include <cmath>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/ssl_infonce.h"
#include "ref.h"

using namespace spk;

namespace {

// VICReg.call written out as loops: biased batch variance (tf.nn.moments), Cov with N - 1, off-diagonal only.
double vicreg_ref(const ref::Mat& a, const ref::Mat& b, double w_inv, double w_var, double w_cov) {
  const size_t n = a.size(), d = a[0].size();
  double inv = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < d; ++k) inv += (a[i][k] - b[i][k]) * (a[i][k] - b[i][k]) / double(n * d);
  double var = 0, cov = 0;
  for (const ref::Mat* z : {&a, &b}) {
    ref::Vec mu(d, 0.0);
    for (size_t i = 0; i < n; ++i)
      for (size_t k = 0; k < d; ++k) mu[k] += (*z)[i][k] / double(n);
    for (size_t k = 0; k < d; ++k) {
      double v = 0;
      for (size_t i = 0; i < n; ++i) v += ((*z)[i][k] - mu[k]) * ((*z)[i][k] - mu[k]) / double(n);
      var += std::max(0.0, 1.0 - std::sqrt(v + 1e-4)) / double(d);
    }
    for (size_t p = 0; p < d; ++p)
      for (size_t q = 0; q < d; ++q) {
        if (p == q) continue;
        double c = 0;
        for (size_t i = 0; i < n; ++i) c += ((*z)[i][p] - mu[p]) * ((*z)[i][q] - mu[q]) / double(n - 1);
        cov += c * c / double(d);
      }
  }
  return w_inv * inv + w_var * var + w_cov * cov;
}

double infonce_ref(const ref::Mat& a, const ref::Mat& b) {
  const size_t n = a.size();
  ref::Mat z(n, ref::Vec(n));
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < n; ++k) z[i][k] = ref::dot(ref::normalize(a[i], 1e-6), ref::normalize(b[k], 1e-6)) / 0.07;
  return ref::ce(z, ref::diag_labels(n));
}

LossConfig vic_config(int64_t d, double factor) {
  LossConfig c = ref::f64_config(d, 2, 2);
  c.vicreg_factor = factor;
  return c;
}

}  // namespace

TEST_CASE("vicreg: hand-worked values of the three terms") {
  VICRegWeights w;   // 1, 1, 0.04
  // Za = Zb = [[1, 1], [-1, -1]]: inv 0; Var_d = 1 (biased) so std = sqrt(1.0001) > 1, var 0;
  // C = [[2, 2], [2, 2]] (N - 1 = 1): off-diagonal 2^2 + 2^2 = 8, / D = 4 per view, cov 8; L = 0.04 * 8 = 0.32.
  Tensor same = ref::tensor({{1, 1}, {-1, -1}});
  test::expect_close(vicreg_loss(same, same, w), {0.32}, 1e-14, 1e-13, "cov only");
  // Za = Zb = [[1, 0], [-1, 0]]: dim 1 has Var 0, std sqrt(1e-4) = 0.01, relu 0.99; mean over D = 0.495 per view,
  // var 0.99; C = diag(2, 0): cov 0.  L = 0.99.
  Tensor axis = ref::tensor({{1, 0}, {-1, 0}});
  test::expect_close(vicreg_loss(axis, axis, w), {0.99}, 1e-14, 1e-13, "var only");
  // The variance is the biased one (tf.nn.moments): Za = Zb = [[0.6], [-0.6]] has Var 0.36 (0.72 unbiased), so
  // var = 2 (1 - sqrt(0.3601)); D = 1 has no off-diagonal covariance.
  Tensor line = ref::tensor({{0.6}, {-0.6}});
  test::expect_close(vicreg_loss(line, line, w), {2 * (1 - std::sqrt(0.3601))}, 1e-14, 1e-13, "biased variance");
  // Invariance alone: Zb = Za + 0.5 everywhere; mean squared difference 0.25 (var and cov as for Za twice).
  Tensor shifted = ref::tensor({{1.5, 1.5}, {-0.5, -0.5}});
  test::expect_close(vicreg_loss(same, shifted, {1, 0, 0}), {0.25}, 1e-14, 1e-13, "inv only");
  test::expect_close(vicreg_loss(same, shifted, {2, 3, 5}), {2 * 0.25 + 5 * 8}, 1e-12, 1e-13, "weights");
  CHECK_THROWS_WITH_AS(vicreg_loss(ref::tensor({{1, 2}}), ref::tensor({{1, 2}}), w), doctest::Contains("N >= 2"),
                       Error);
}

TEST_CASE("ssl_infonce + vicreg: value against a double loop, gradients, factor 0 unchanged") {
  Rng rng(1107);
  // Four utterances x two views x D = 3, values in [-0.6, 0.6): every std below 1 (the relu active), no kink.
  Tensor x = test::rand_input({4, 2, 3}, rng, -0.6, 0.6);
  const auto g = ref::groups(x);
  const ref::Mat a = ref::member(g, 0), b = ref::member(g, 1);
  LossConfig c = vic_config(3, 0.1);
  c.vicreg_inv_weight = 0.7;
  c.vicreg_var_weight = 1.3;
  c.vicreg_cov_weight = 0.5;
  SSLInfoNCELoss loss(c, rng);
  const double want = infonce_ref(a, b) + 0.1 * vicreg_ref(a, b, 0.7, 1.3, 0.5);
  test::expect_close(loss.forward(x, Tensor()).loss, {want}, 1e-12, 1e-11, "infonce + 0.1 vicreg");
  ref::gradcheck_loss(loss, x, Tensor());
  // Factor 0 (the default): exactly the plain loss, whatever the weights.
  SSLInfoNCELoss plain(ref::f64_config(3, 2, 2), rng);
  c.vicreg_factor = 0;
  SSLInfoNCELoss off(c, rng);
  const double p = plain.forward(x, Tensor()).loss.to_double()[0];
  CHECK(off.forward(x, Tensor()).loss.to_double()[0] == p);
  test::expect_close(plain.forward(x, Tensor()).loss, {infonce_ref(a, b)}, 1e-12, 1e-11, "plain");
}

TEST_CASE("ssl_infonce + vicreg: on the projection head's outputs before the normalisation, gradients") {
  Rng rng(1108);
  LossConfig c = vic_config(3, 1.0);
  c.ssl_proj_layers = 1;   // a Linear (4 -> 3 here): the VICReg sees W x + b, not its normalised rows
  c.ssl_proj_dim = 4;
  c.nOut = 3;
  SSLInfoNCELoss loss(c, rng);
  Tensor x = test::rand_input({3, 2, 3}, rng, -0.5, 0.5);
  const auto g = ref::groups(x);
  const auto& params = loss.named_parameters();
  REQUIRE(params.size() == 2);
  const std::vector<double> w = params[0].second.to_double(), bias = params[1].second.to_double();
  ref::Mat z[2];
  for (size_t v = 0; v < 2; ++v)
    for (const auto& r : ref::member(g, v)) {
      ref::Vec y(4);
      for (size_t o = 0; o < 4; ++o) {
        y[o] = bias[o];
        for (size_t k = 0; k < 3; ++k) y[o] += w[o * 3 + k] * r[k];
      }
      z[v].push_back(y);
    }
  const double want = infonce_ref(z[0], z[1]) + vicreg_ref(z[0], z[1], 1, 1, 0.04);
  test::expect_close(loss.forward(x, Tensor()).loss, {want}, 1e-12, 1e-11, "head + vicreg");
  ref::gradcheck_loss(loss, x, Tensor());
}

TEST_CASE("ssl_infonce + vicreg: bad settings and a batch of one are refused, naming the setting") {
  Rng rng(1109);
  for (auto [setting, set] : std::vector<std::pair<std::string, void (*)(LossConfig&)>>{
           {"vicreg_factor -0.5", [](LossConfig& k) { k.vicreg_factor = -0.5; }},
           {"vicreg_inv_weight -1", [](LossConfig& k) { k.vicreg_inv_weight = -1; }},
           {"vicreg_var_weight nan", [](LossConfig& k) { k.vicreg_var_weight = std::nan(""); }},
           {"vicreg_cov_weight inf", [](LossConfig& k) { k.vicreg_cov_weight = INFINITY; }}}) {
    CAPTURE(setting);
    LossConfig c = vic_config(3, 0.1);
    set(c);
    CHECK_THROWS_WITH_AS(SSLInfoNCELoss(c, rng), doctest::Contains(("ssl_infonce: " + setting).c_str()), Error);
  }
  SSLInfoNCELoss loss(vic_config(3, 0.1), rng);
  CHECK_THROWS_WITH_AS(loss.forward(test::rand_input({1, 2, 3}, rng), Tensor()),
                       doctest::Contains("vicreg_factor 0.1 needs at least 2 utterances"), Error);
}
