// Pooling and block arithmetic of nets/blocks.h against plain loops: self-attentive pooling (SAP/ASP),
// attentive statistics, temporal statistics (TSTP), and the SE layer.
#include <cmath>
#include <vector>

#include "engine/layers.h"
#include "model_test_util.h"
#include "nets/blocks.h"

using namespace spk;

TEST_CASE("self_attentive_pool: SAP and ASP against loops") {
  Rng rng(3);
  const int64_t B = 2, T = 5, D = 3;
  Linear lin(D, D, rng, true, DType::f64);
  Tensor att = Tensor::normal({D, 1}, rng, 0, 1, DType::f64);
  Tensor x = Tensor::normal({B, T, D}, rng, 0, 1, DType::f64);
  auto xv = x.to_double(), W = lin.weight.to_double(), bb = lin.bias.to_double(), a = att.to_double();
  std::vector<double> mu(B * D), sg(B * D);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> e(T);
    double mx = -1e300, z = 0;
    for (int64_t t = 0; t < T; ++t) {
      double s = 0;
      for (int64_t i = 0; i < D; ++i) {
        double h = bb[i];
        for (int64_t j = 0; j < D; ++j) h += W[i * D + j] * xv[(b * T + t) * D + j];
        s += std::tanh(h) * a[i];
      }
      e[t] = s;
      mx = std::max(mx, s);
    }
    for (auto& v : e) z += (v = std::exp(v - mx));
    for (int64_t d = 0; d < D; ++d) {
      double m = 0, m2 = 0;
      for (int64_t t = 0; t < T; ++t) {
        double v = xv[(b * T + t) * D + d], w = e[t] / z;
        m += w * v;
        m2 += w * v * v;
      }
      mu[b * D + d] = m;
      sg[b * D + d] = std::sqrt(std::max(m2 - m * m, 1e-5));
    }
  }
  auto sap = self_attentive_pool(x, lin, att, false).to_double();
  auto asp = self_attentive_pool(x, lin, att, true).to_double();
  REQUIRE(asp.size() == size_t(B * 2 * D));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t d = 0; d < D; ++d) {
      CHECK(sap[b * D + d] == doctest::Approx(mu[b * D + d]).epsilon(1e-12));
      CHECK(asp[b * 2 * D + d] == doctest::Approx(mu[b * D + d]).epsilon(1e-12));
      CHECK(asp[b * 2 * D + D + d] == doctest::Approx(sg[b * D + d]).epsilon(1e-12));
    }
}

TEST_CASE("attentive_stats_pool and temporal_stats against loops") {
  // One channel, four frames: x = 1, 2, 4, 7; w = 0.1, 0.2, 0.3, 0.4 (the op takes logits: log w, whose softmax
  // is w again).
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 4, 7}, {1, 1, 4}, DType::f64);
  Tensor w = Tensor::from_vector(std::vector<double>{0.1, 0.2, 0.3, 0.4}, {1, 1, 4}, DType::f64);
  auto s = attentive_stats_pool(log(w), x, true, 1e-4).to_double();
  const double mu = 0.1 + 0.4 + 1.2 + 2.8;                      // 4.5
  const double m2 = 0.1 + 0.8 + 4.8 + 19.6;                     // 25.3
  CHECK(s[0] == doctest::Approx(mu));
  CHECK(s[1] == doctest::Approx(std::sqrt(m2 - mu * mu)));      // sqrt(5.05)
  // All mass on one frame: the variance clamps at clamp_min.
  Tensor w1 = Tensor::from_vector(std::vector<double>{0, 0, 1, 0}, {1, 1, 4}, DType::f64);
  CHECK(attentive_stats_pool(log(w1), x, true, 1e-4).to_double()[1] == doctest::Approx(1e-2));
  CHECK(attentive_stats_pool(log(w1), x, false, 1e-4).shape() == Shape{1, 1});
  // TSTP: mean 3.5, unbiased variance ((2.5² + 1.5² + 0.5² + 3.5²) / 3) = 7, std sqrt(7 + 1e-7).
  auto t = temporal_stats(x).to_double();
  CHECK(t[0] == doctest::Approx(3.5));
  CHECK(t[1] == doctest::Approx(std::sqrt(7 + 1e-7)));
  CHECK_THROWS_WITH_AS(temporal_stats(slice(x, 2, 0, 1)), doctest::Contains("T >= 2"), Error);
}

TEST_CASE("SELayer scales each channel by sigmoid(fc2(relu(fc0(mean))))") {
  Rng rng(5);
  SELayer se(8, 4, rng);
  Tensor x = Tensor::normal({1, 8, 2, 3}, rng);
  auto xv = x.to_double(), y = se.forward(x).to_double();
  auto W0 = se.fc0->weight.to_double(), b0 = se.fc0->bias.to_double();
  auto W2 = se.fc2->weight.to_double(), b2 = se.fc2->bias.to_double();
  std::vector<double> m(8, 0), h(2);
  for (int c = 0; c < 8; ++c)
    for (int k = 0; k < 6; ++k) m[c] += xv[c * 6 + k] / 6;
  for (int i = 0; i < 2; ++i) {
    h[i] = b0[i];
    for (int c = 0; c < 8; ++c) h[i] += W0[i * 8 + c] * m[c];
    h[i] = std::max(h[i], 0.0);
  }
  for (int c = 0; c < 8; ++c) {
    double g = b2[c];
    for (int i = 0; i < 2; ++i) g += W2[c * 2 + i] * h[i];
    g = 1 / (1 + std::exp(-g));
    for (int k = 0; k < 6; ++k) CHECK(y[c * 6 + k] == doctest::Approx(xv[c * 6 + k] * g).epsilon(1e-5));
  }
}
