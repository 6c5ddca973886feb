// --trainfunc2 (losses/second_loss.h): CEL fine-tuning's nloss = nloss1 + w·nloss2, on a tiny hand input whose
// two terms are written out here as plain loops (anglecontrast with w 10, b −5; uniformity PoN, t 2).
#include <cmath>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/second_loss.h"
#include "ref.h"

using namespace spk;

TEST_CASE("second loss: 'uniform' is CEL's name of uniformity; any other name is make_loss's") {
  CHECK(second_loss_name("uniform") == "uniformity");
  CHECK(second_loss_name("angleproto") == "angleproto");
  LossConfig c = ref::f64_config(2, 3, 2);
  CHECK(make_second_loss("uniform", c)->name() == "uniformity");
  CHECK_THROWS_WITH_AS(make_second_loss("unif", c), doctest::Contains("unif"), Error);
}

TEST_CASE("second loss: anglecontrast + w·uniformity on a hand input equals the two formulas added") {
  // Three speakers, two unit-length views each at the angles below (radians).
  const double ang[3][2] = {{0.0, 0.3}, {2.0, 2.4}, {4.0, 4.1}};
  ref::Mat v1, v2;
  std::vector<double> flat;
  for (const auto& s : ang)
    for (int j = 0; j < 2; ++j) {
      flat.push_back(std::cos(s[j]));
      flat.push_back(std::sin(s[j]));
      (j == 0 ? v1 : v2).push_back({std::cos(s[j]), std::sin(s[j])});
    }
  Tensor x = Tensor::from_vector(flat, {3, 2, 2}, DType::f64);

  // anglecontrast: S_ij = cos(view2_i, view1_j); ½[CE(10·S − 5, diag) + CE(10·Sᵀ − 5, diag)].
  ref::Mat z(3, ref::Vec(3));
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 3; ++j) z[i][j] = 10 * ref::cosine(v2[i], v1[j]) - 5;
  const double l1 = 0.5 * (ref::ce(z, ref::diag_labels(3)) + ref::ce(ref::transpose(z), ref::diag_labels(3)));
  // uniformity PoN: ½[log mean_{i<j} exp(−2‖a_i − a_j‖²) over view 1, the same over view 2].
  auto lme = [](const ref::Mat& a) {
    double s = 0;
    int n = 0;
    for (size_t i = 0; i < a.size(); ++i)
      for (size_t j = i + 1; j < a.size(); ++j, ++n) s += std::exp(-2 * ref::sq_dist(a[i], a[j]));
    return std::log(s / n);
  };
  const double l2 = 0.5 * (lme(v1) + lme(v2));

  LossConfig c = ref::f64_config(2, 3, 2);
  auto first = make_loss("anglecontrast", c);
  auto second = make_second_loss("uniform", c);
  for (const double w : {1.0, 0.25}) {
    CAPTURE(w);
    const LossOutput a = first->forward(x, Tensor()), b = second->forward(x, Tensor());
    CHECK(a.loss.item() == doctest::Approx(l1).epsilon(1e-12));
    CHECK(b.loss.item() == doctest::Approx(l2).epsilon(1e-12));
    const LossOutput sum = add_second_loss(a, b, w);
    CHECK(sum.loss.item() == doctest::Approx(l1 + w * l2).epsilon(1e-12));
    CHECK(sum.metric == a.metric);   // the first loss's metric, as CEL's prec1
    CHECK(sum.metric_kind == MetricKind::accuracy);
  }
  // Gradients flow into both terms: d(sum)/dx = d(l1)/dx + w·d(l2)/dx.
  Tensor xg = x.clone().set_requires_grad(true);
  add_second_loss(first->forward(xg, Tensor()), second->forward(xg, Tensor()), 0.5).loss.backward();
  const std::vector<double> g = xg.grad().to_vector<double>();
  Tensor x1 = x.clone().set_requires_grad(true), x2 = x.clone().set_requires_grad(true);
  first->forward(x1, Tensor()).loss.backward();
  second->forward(x2, Tensor()).loss.backward();
  const std::vector<double> g1 = x1.grad().to_vector<double>(), g2 = x2.grad().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == doctest::Approx(g1[i] + 0.5 * g2[i]).epsilon(1e-12));
}

TEST_CASE("second loss: warnings of both terms are kept") {
  LossOutput a(Tensor::scalar(1.0, DType::f64), 50, MetricKind::accuracy, "first warns");
  LossOutput b(Tensor::scalar(2.0, DType::f64), 0, MetricKind::none, "second warns");
  const LossOutput s = add_second_loss(a, b, 3);
  CHECK(s.loss.item() == 7.0);
  CHECK(s.metric == 50);
  CHECK(s.warning == "first warns; second warns");
  CHECK(add_second_loss(LossOutput(Tensor::scalar(1.0, DType::f64), 0, MetricKind::accuracy), b, 1).warning ==
        "second warns");
}
