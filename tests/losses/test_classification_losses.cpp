// Classification losses (softmax, amsoftmax, aamsoftmax, adasoftmax, arc_margin): values against plain loops on
// the anchor formulas, gradients by finite differences (embeddings and W), the top-1 metric on separable and
// misclassified cases, the margin hook, and shape errors.
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/schedule.h"
#include "losses/aamsoftmax.h"
#include "losses/adasoftmax.h"
#include "losses/amsoftmax.h"
#include "losses/arc_margin.h"
#include "losses/softmax.h"
#include "ref.h"

using namespace spk;
using test::rand_input;

namespace {

// Cosines of the rows of x (N, D) with the rows of w (C, D).
ref::Mat cos_rows(const ref::Mat& x, const ref::Mat& w) {
  ref::Mat c(x.size(), ref::Vec(w.size()));
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t k = 0; k < w.size(); ++k) c[i][k] = ref::dot(ref::normalize(x[i]), ref::normalize(w[k]));
  return c;
}

// x rows equal to class directions e_{y_i} (D = C): every loss should classify them perfectly.
Tensor one_hot_rows(const ref::Labels& y, int64_t c) {
  ref::Mat m(y.size(), ref::Vec(size_t(c), 0.0));
  for (size_t i = 0; i < y.size(); ++i) m[i][size_t(y[i])] = 2.0;
  return ref::tensor(m);
}

}  // namespace

TEST_CASE("softmax: value, metric, gradient, parameter names") {
  Rng rng(101);
  auto cfg = ref::f64_config(3, 5, 1);
  SoftmaxLoss loss(cfg, rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"fc.weight", "fc.bias"});
  CHECK(loss.fc->weight.shape() == Shape{5, 3});
  Tensor x = rand_input({4, 3}, rng);
  ref::Labels y{0, 3, 1, 4};
  LossOutput out = loss.forward(x, ref::labels(y));

  ref::Mat xr = ref::rows(x), w = ref::rows(loss.fc->weight);
  ref::Vec b = loss.fc->bias.to_double();
  ref::Mat z(4, ref::Vec(5));
  for (size_t i = 0; i < 4; ++i)
    for (size_t c = 0; c < 5; ++c) z[i][c] = ref::dot(w[c], xr[i]) + b[c];
  test::expect_close(out.loss, {ref::ce(z, y)}, 1e-13, 1e-12, "softmax CE");
  CHECK(out.metric == doctest::Approx(ref::top1(z, y)));
  CHECK(out.metric_kind == MetricKind::accuracy);
  CHECK(out.loss.shape() == Shape{});
  // (N, 1, D) is accepted as (N, D).
  test::expect_close(loss.forward(reshape(x, {4, 1, 3}), ref::labels(y)).loss, {ref::ce(z, y)}, 1e-13, 1e-12, "(N,1,D)");

  ref::gradcheck_loss(loss, x, ref::labels(y));

  // Metric: a classifier whose rows are the class directions gets 100 % on x = e_y and 0 % on shifted labels.
  auto cfg3 = ref::f64_config(3, 3, 1);
  SoftmaxLoss sep(cfg3, rng);
  sep.fc->weight.copy_(ref::tensor({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}));
  sep.fc->bias.zero_();
  CHECK(sep.forward(one_hot_rows({2, 0, 1, 1}, 3), ref::labels({2, 0, 1, 1})).metric == 100.0);
  CHECK(sep.forward(one_hot_rows({2, 0, 1, 1}, 3), ref::labels({0, 1, 2, 2})).metric == 0.0);
  CHECK(sep.forward(one_hot_rows({2, 0, 1, 1}, 3), ref::labels({2, 0, 2, 2})).metric == 50.0);
}

TEST_CASE("amsoftmax: CosFace logits s·(cos − m·onehot), W is (nOut, nClasses)") {
  Rng rng(102);
  auto cfg = ref::f64_config(3, 5, 1);
  cfg.margin = 0.3;
  cfg.scale = 15;
  AMSoftmaxLoss loss(cfg, rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"W"});
  CHECK(loss.W.shape() == Shape{3, 5});
  Tensor x = rand_input({4, 3}, rng);
  ref::Labels y{4, 0, 0, 2};
  LossOutput out = loss.forward(x, ref::labels(y));
  ref::Mat cos = cos_rows(ref::rows(x), ref::transpose(ref::rows(loss.W)));
  ref::Mat z = cos;
  for (size_t i = 0; i < 4; ++i)
    for (size_t c = 0; c < 5; ++c) z[i][c] = 15 * (cos[i][c] - (int64_t(c) == y[i] ? 0.3 : 0.0));
  test::expect_close(out.loss, {ref::ce(z, y)}, 1e-13, 1e-12, "amsoftmax CE");
  CHECK(out.metric == doctest::Approx(ref::top1(z, y)));
  ref::gradcheck_loss(loss, x, ref::labels(y));

  // The margin hook changes the logits.
  loss.set_margin(0.0);
  for (size_t i = 0; i < 4; ++i)
    for (size_t c = 0; c < 5; ++c) z[i][c] = 15 * cos[i][c];
  test::expect_close(loss.forward(x, ref::labels(y)).loss, {ref::ce(z, y)}, 1e-13, 1e-12, "margin 0");
  CHECK(loss.margin() == 0.0);

  // Separable: W = identity columns, x = e_y -> cos 1 vs 0, 100 % even with the margin.
  auto cfg3 = ref::f64_config(3, 3, 1);
  AMSoftmaxLoss sep(cfg3, rng);
  sep.W.copy_(ref::tensor({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}));
  CHECK(sep.forward(one_hot_rows({1, 2, 0}, 3), ref::labels({1, 2, 0})).metric == 100.0);
}

TEST_CASE("aamsoftmax: ArcFace with the cos(pi - m) threshold, fallback and easy margin") {
  Rng rng(103);
  auto cfg = ref::f64_config(3, 4, 1);
  cfg.margin = 0.5;   // th = cos(pi - 0.5) = -0.878: wide enough to place a row below it
  cfg.scale = 12;
  AAMSoftmaxLoss loss(cfg, rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"weight"});
  CHECK(loss.weight.shape() == Shape{4, 3});
  ref::Mat w = ref::rows(loss.weight);
  // Rows: two random, one pointing away from its class (target cos ≈ −0.99: the fallback branch), one with a
  // negative target cosine above the threshold (the easy-margin branch when easy_margin is on).
  ref::Mat xm = ref::rows(Tensor::uniform({2, 3}, rng, -1, 1, DType::f64));
  xm.push_back({-w[2][0] + 0.05, -w[2][1], -w[2][2] + 0.02});
  xm.push_back({-w[1][0] * 0.3 + w[0][0], -w[1][1] * 0.3 + w[0][1], -w[1][2] * 0.3 + w[0][2]});
  ref::Labels y{0, 3, 2, 1};
  Tensor x = ref::tensor(xm).set_requires_grad(true);
  ref::Mat cos = cos_rows(xm, w);

  for (bool easy : {false, true}) {
    CAPTURE(easy);
    auto c2 = cfg;
    c2.easy_margin = easy;
    Rng same(103);
    AAMSoftmaxLoss l2(c2, same);
    l2.weight.copy_(loss.weight);
    std::vector<ref::Branch> br;
    ref::Mat z = ref::arc_logits(cos, y, 0.5, 12, easy, false, &br);
    if (!easy) CHECK(br[2] == ref::Branch::fallback);
    if (easy) CHECK(std::count(br.begin(), br.end(), ref::Branch::easy) >= 1);
    LossOutput out = l2.forward(x, ref::labels(y));
    test::expect_close(out.loss, {ref::ce(z, y)}, 1e-13, 1e-12, "aamsoftmax CE");
    CHECK(out.metric == doctest::Approx(ref::top1(z, y)));
    ref::gradcheck_loss(l2, x, ref::labels(y));
  }

  // Separable case: 100 %.
  auto cfg3 = ref::f64_config(3, 3, 1);
  AAMSoftmaxLoss sep(cfg3, rng);
  sep.weight.copy_(ref::tensor({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}));
  CHECK(sep.forward(one_hot_rows({0, 2, 1}, 3), ref::labels({0, 2, 1})).metric == 100.0);
  // The margin hook.
  sep.set_margin(0.2);
  CHECK(sep.margin() == 0.2);
  CHECK_THROWS_WITH_AS(sep.set_margin(-0.1), doctest::Contains("aamsoftmax: margin -0.1 must be in [0, pi)"), Error);
}

TEST_CASE("arc_margin: wespeaker's mmm fallback, unclamped sine, set_margin from the margin schedule") {
  Rng rng(104);
  auto cfg = ref::f64_config(3, 4, 1);
  cfg.margin = 0.5;
  cfg.scale = 32;
  ArcMarginLoss loss(cfg, rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"weight"});
  ref::Mat w = ref::rows(loss.weight);
  ref::Mat xm = ref::rows(Tensor::uniform({2, 3}, rng, -1, 1, DType::f64));
  xm.push_back({-w[1][0] + 0.03, -w[1][1] - 0.02, -w[1][2]});
  ref::Labels y{2, 0, 1};
  Tensor x = ref::tensor(xm).set_requires_grad(true);
  ref::Mat cos = cos_rows(xm, w);
  std::vector<ref::Branch> br;
  ref::Mat z = ref::arc_logits(cos, y, 0.5, 32, false, true, &br);
  REQUIRE(br[2] == ref::Branch::fallback);
  test::expect_close(loss.forward(x, ref::labels(y)).loss, {ref::ce(z, y)}, 1e-13, 1e-12, "arc_margin CE");
  // It differs from voxceleb_trainer's fallback on that row.
  ref::Mat zvt = ref::arc_logits(cos, y, 0.5, 32, false, false);
  CHECK(std::abs(ref::ce(zvt, y) - ref::ce(z, y)) > 1e-3);
  ref::gradcheck_loss(loss, x, ref::labels(y));

  // wespeaker's schedule drives the margin: 0 before the ramp, 0.2 after.
  MarginSchedule sched{0.0, 0.2, 2, 4, 10, true};
  loss.set_margin(sched(0));
  CHECK(loss.margin() == 0.0);
  test::expect_close(loss.forward(x, ref::labels(y)).loss, {ref::ce(ref::arc_logits(cos, y, 0.0, 32, false, true), y)},
                     1e-13, 1e-12, "margin 0");
  loss.set_margin(sched(100));
  CHECK(loss.margin() == doctest::Approx(0.2));
  test::expect_close(loss.forward(x, ref::labels(y)).loss, {ref::ce(ref::arc_logits(cos, y, 0.2, 32, false, true), y)},
                     1e-13, 1e-12, "margin 0.2");

  // Separable: 100 %.
  auto cfg3 = ref::f64_config(3, 3, 1);
  ArcMarginLoss sep(cfg3, rng);
  sep.weight.copy_(ref::tensor({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}));
  CHECK(sep.forward(one_hot_rows({1, 0, 2}, 3), ref::labels({1, 0, 2})).metric == 100.0);
}

TEST_CASE("adasoftmax: AdaCos scale update (lower median, no gradient), frozen in eval") {
  Rng rng(105);
  auto cfg = ref::f64_config(3, 5, 1);
  AdaCosLoss loss(cfg, rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"W"});
  CHECK(loss.W.shape() == Shape{5, 3});
  const double s0 = std::sqrt(2.0) * std::log(4.0);
  CHECK(loss.scale() == doctest::Approx(s0).epsilon(1e-15));
  Tensor x = rand_input({4, 3}, rng);
  ref::Labels y{1, 4, 4, 0};
  ref::Mat cos = cos_rows(ref::rows(x), ref::rows(loss.W));
  auto update = [&](double s) {
    double b = 0;
    std::vector<double> theta;
    for (size_t i = 0; i < 4; ++i)
      for (size_t c = 0; c < 5; ++c) {
        if (int64_t(c) == y[i]) theta.push_back(std::acos(std::clamp(cos[i][c], -1 + 1e-7, 1 - 1e-7)));
        else b += std::exp(s * cos[i][c]);
      }
    std::sort(theta.begin(), theta.end());
    return std::log(b / 4) / std::cos(std::min(ref::kPi / 4, theta[1]));   // 4 values: the lower middle is [1]
  };
  auto logits = [&](double s) {
    ref::Mat z = cos;
    for (auto& r : z)
      for (double& v : r) v *= s;
    return z;
  };
  const double s1 = update(s0), s2 = update(s1);
  LossOutput o1 = loss.forward(x, ref::labels(y));
  CHECK(loss.scale() == doctest::Approx(s1).epsilon(1e-12));
  test::expect_close(o1.loss, {ref::ce(logits(s1), y)}, 1e-12, 1e-12, "first step uses the updated s");
  CHECK(o1.metric == doctest::Approx(ref::top1(logits(s1), y)));
  LossOutput o2 = loss.forward(x, ref::labels(y));
  CHECK(loss.scale() == doctest::Approx(s2).epsilon(1e-12));
  test::expect_close(o2.loss, {ref::ce(logits(s2), y)}, 1e-12, 1e-12, "second step");

  loss.eval();
  loss.forward(x, ref::labels(y));
  CHECK(loss.scale() == doctest::Approx(s2).epsilon(1e-12));
  // The scale is a constant for autograd: in eval mode (fixed s) the gradient matches finite differences.
  ref::gradcheck_loss(loss, x, ref::labels(y));
  loss.set_scale(3.0);
  test::expect_close(loss.forward(x, ref::labels(y)).loss, {ref::ce(logits(3.0), y)}, 1e-12, 1e-12, "set_scale");

  // Separable: 100 %.
  auto cfg3 = ref::f64_config(3, 3, 1);
  AdaCosLoss sep(cfg3, rng);
  sep.W.copy_(ref::tensor({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}));
  CHECK(sep.forward(one_hot_rows({2, 1, 0}, 3), ref::labels({2, 1, 0})).metric == 100.0);
}

TEST_CASE("classification losses: shape and label errors name the loss") {
  Rng rng(106);
  auto cfg = ref::f64_config(3, 5, 1);
  AAMSoftmaxLoss loss(cfg, rng);
  Tensor x = Tensor::zeros({4, 3}, DType::f64);
  CHECK_THROWS_WITH_AS(loss.forward(Tensor::zeros({4, 2, 3}, DType::f64), ref::labels({0, 1, 2, 3})),
                       doctest::Contains("aamsoftmax: a classification loss needs nPerSpeaker 1"), Error);
  CHECK_THROWS_WITH_AS(loss.forward(Tensor::zeros({4, 7}, DType::f64), ref::labels({0, 1, 2, 3})),
                       doctest::Contains("aamsoftmax: embedding size 7"), Error);
  CHECK_THROWS_WITH_AS(loss.forward(x, Tensor()), doctest::Contains("aamsoftmax: labels must be i64 (4)"), Error);
  CHECK_THROWS_WITH_AS(loss.forward(x, ref::labels({0, 1, 2})), doctest::Contains("aamsoftmax: labels must be i64 (4)"),
                       Error);
  CHECK_THROWS_WITH_AS(loss.forward(x, ref::labels({0, 1, 2, 5})), doctest::Contains("label 5 in row 3"), Error);
  SoftmaxLoss sm(cfg, rng);
  CHECK_THROWS_WITH_AS(sm.set_margin(0.2), doctest::Contains("softmax: this loss has no margin"), Error);
  CHECK_FALSE(sm.has_margin());
}
