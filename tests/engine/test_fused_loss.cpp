// Fused losses (margin_softmax_ce, similarity_ce; kernels/loss/): values and predictions against plain double
// loops on the anchor formulas, finite-difference gradients in double (every branch of the AAM margin, both
// weight layouts, both eps rules, with and without bias, one and two directions), the f32 fused op against the
// composed engine-op losses it replaces (values and gradients), the eps clamp on zero rows, and errors. The AAM / AM
// losses composed with losses/common.h are a floor above: tests/losses/test_fused_margin_vs_losses.cpp.
#include <algorithm>
#include <cmath>

#include "support/check.h"
#include "support/same_loss.h"

using namespace spk;
using test::expect_same_loss;
using test::gradcheck;
using test::rand_input;

namespace {

using Vec = std::vector<double>;
constexpr double kPi = 3.14159265358979323846;

double dot(const double* a, const double* b, int64_t D) {
  double s = 0;
  for (int64_t k = 0; k < D; ++k) s += a[k] * b[k];
  return s;
}

struct RefOut {
  double loss = 0;
  std::vector<int64_t> pred, pred_t;
};

// CE terms of logit rows z (n rows of n_cols) against targets; first argmax.
void ce_rows(const std::vector<Vec>& z, const std::vector<int64_t>& y, double& total, std::vector<int64_t>& pred) {
  for (size_t i = 0; i < z.size(); ++i) {
    const double mx = *std::max_element(z[i].begin(), z[i].end());
    double s = 0;
    for (double v : z[i]) s += std::exp(v - mx);
    total += mx + std::log(s) - z[i][size_t(y[i])];
    pred.push_back(int64_t(std::max_element(z[i].begin(), z[i].end()) - z[i].begin()));
  }
}

// margin_softmax_ce from its definition; w as (C, D) rows, whatever the op's layout.
RefOut ref_margin(const Tensor& x, const Tensor& w_rows, const std::vector<int64_t>& y, const MarginSoftmaxOptions& o) {
  const int64_t N = x.size(0), D = x.size(1), C = w_rows.size(0);
  Vec xv = x.to_double(), wv = w_rows.to_double();
  std::vector<Vec> z(static_cast<size_t>(N), Vec(static_cast<size_t>(C)));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t c = 0; c < C; ++c) {
      const double* xi = &xv[size_t(i * D)];
      const double* wc = &wv[size_t(c * D)];
      const double cs = dot(xi, wc, D) / (std::max(std::sqrt(dot(xi, xi, D)), 1e-12) *
                                          std::max(std::sqrt(dot(wc, wc, D)), 1e-12));
      double v = cs;
      if (c == y[size_t(i)]) {
        if (o.kind == MarginKind::additive) {
          v = cs - o.margin;
        } else {
          const double m = o.margin, sine = std::sqrt(std::clamp(1 - cs * cs, 0.0, 1.0));
          const double phi = cs * std::cos(m) - sine * std::sin(m);
          v = o.easy_margin ? (cs > 0 ? phi : cs) : (cs - std::cos(kPi - m) > 0 ? phi : cs - std::sin(kPi - m) * m);
        }
      }
      z[size_t(i)][size_t(c)] = o.scale * v;
    }
  RefOut r;
  ce_rows(z, y, r.loss, r.pred);
  r.loss /= double(N);
  return r;
}

// similarity_ce from its definition.
RefOut ref_similarity(const Tensor& a, const Tensor& b, double w, double bias, const SimilarityCeOptions& o) {
  const int64_t N = a.size(0), D = a.size(1);
  Vec av = a.to_double(), bv = b.to_double();
  std::vector<Vec> z(static_cast<size_t>(N), Vec(static_cast<size_t>(N)));
  std::vector<Vec> zt = z;
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const double* ai = &av[size_t(i * D)];
      const double* bj = &bv[size_t(j * D)];
      const double na = std::sqrt(dot(ai, ai, D)), nb = std::sqrt(dot(bj, bj, D));
      const double cs = o.eps_rule == CosineEps::product ? dot(ai, bj, D) / std::max(na * nb, o.eps)
                                                         : dot(ai, bj, D) / (std::max(na, o.eps) * std::max(nb, o.eps));
      z[size_t(i)][size_t(j)] = zt[size_t(j)][size_t(i)] = w * cs + bias;
    }
  std::vector<int64_t> diag(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) diag[size_t(i)] = i;
  RefOut r;
  ce_rows(z, diag, r.loss, r.pred);
  if (o.symmetric) {
    ce_rows(zt, diag, r.loss, r.pred_t);
    r.loss /= 2 * double(N);
  } else {
    r.loss /= double(N);
  }
  return r;
}

Tensor labels_of(const std::vector<int64_t>& y) { return Tensor::from_vector(y, {int64_t(y.size())}); }

std::vector<int64_t> rand_labels(int64_t n, int64_t classes, Rng& rng) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& e : v) e = rng.randint(0, classes);
  return v;
}

// Rows of x deliberately placed on each AAM branch (margin 0.5: th = cos(π − 0.5) = −0.878): a row opposite
// its class (t ≈ −0.99, the fallback), a row with a negative target cosine above th (easy margin's t branch).
Tensor branch_rows(const Tensor& w, const std::vector<int64_t>& y, Rng& rng) {
  const int64_t D = w.size(1);
  Vec wv = w.to_double();
  Vec xv = Tensor::uniform({int64_t(y.size()), D}, rng, -1, 1, DType::f64).to_double();
  auto wrow = [&](int64_t c, int64_t d) { return wv[size_t(c * D + d)]; };
  for (int64_t d = 0; d < D; ++d) {
    xv[size_t(0 * D + d)] = -wrow(y[0], d) + (d == 0 ? 0.05 : 0.0);
    xv[size_t(1 * D + d)] = -0.3 * wrow(y[1], d) + 0.2 * xv[size_t(1 * D + d)];
  }
  return Tensor::from_vector(xv, {int64_t(y.size()), D}, DType::f64).set_requires_grad(true);
}

}  // namespace

// ---------------------------------------------------------------- margin_softmax_ce

TEST_CASE("margin_softmax_ce: values and predictions against loops (AM, AAM, easy margin, both layouts)") {
  Rng rng(5);
  const int64_t N = 9, C = 13, D = 6;
  Tensor x = Tensor::uniform({N, D}, rng, -1, 1, DType::f64), w = Tensor::uniform({C, D}, rng, -1, 1, DType::f64);
  auto y = rand_labels(N, C, rng);
  for (MarginKind kind : {MarginKind::additive, MarginKind::angular})
    for (bool easy : {false, true})
      for (bool by_columns : {false, true}) {
        MarginSoftmaxOptions o{kind, 0.3, 15, easy, by_columns};
        CAPTURE(int(kind));
        CAPTURE(easy);
        CAPTURE(by_columns);
        Tensor wl = by_columns ? transpose(w, 0, 1).contiguous() : w;
        RefOut r = ref_margin(x, w, y, o);
        for (DType dt : {DType::f64, DType::f32}) {
          FusedLossOutput out = margin_softmax_ce(x.to(dt), wl.to(dt), labels_of(y), o);
          CHECK(out.loss.shape() == Shape{});
          CHECK(out.loss.dtype() == dt);
          const double tol = dt == DType::f64 ? 1e-13 : 2e-6;
          test::expect_close(out.loss, {r.loss}, tol, tol, "loss");
          CHECK(out.pred.to_vector<int64_t>() == r.pred);
          CHECK(!out.pred_t.defined());
        }
      }
  // Every AAM branch occurs: fallback (t < th) and easy's t branch.
  Tensor xb = branch_rows(w, y, rng);
  for (bool easy : {false, true}) {
    MarginSoftmaxOptions o{MarginKind::angular, 0.5, 12, easy, false};
    test::expect_close(margin_softmax_ce(xb, w, labels_of(y), o).loss, {ref_margin(xb, w, y, o).loss}, 1e-13, 1e-13,
                       easy ? "branches, easy margin" : "branches, fallback");
  }
}

TEST_CASE("margin_softmax_ce: ties go to the first maximum; zero rows are clamped like l2_normalize") {
  // x = 0 → every cosine is 0 (x / max(0, eps) = 0): all logits equal except the label's; AM with m = 0 makes
  // the row flat, so the prediction is column 0 and the loss log C.
  Rng rng(3);
  Tensor x = Tensor::zeros({2, 3}, DType::f64), w = Tensor::uniform({4, 3}, rng, -1, 1, DType::f64);
  FusedLossOutput out = margin_softmax_ce(x, w, labels_of({2, 3}), {MarginKind::additive, 0.0, 30, false, false});
  test::expect_close(out.loss, {std::log(4.0)}, 1e-14, 1e-14, "flat rows");
  CHECK(out.pred.to_vector<int64_t>() == std::vector<int64_t>{0, 0});
  // The gradient through a zero row is finite: dx = dx̂ / eps, no projection term.
  Tensor xl = x.clone().set_requires_grad(true);
  margin_softmax_ce(xl, w, labels_of({2, 3}), {MarginKind::additive, 0.2, 30, false, false}).loss.backward();
  for (double g : xl.grad().to_double()) CHECK(std::isfinite(g));
}

SPK_GRADCHECK_CASE(margin_softmax_ce, "AM and AAM, fallback and easy branches, (C, D) and (D, C) weights") {
  Rng rng(11);
  const int64_t N = 5, C = 7, D = 4;
  Tensor w = rand_input({C, D}, rng);
  const std::vector<int64_t> y{3, 0, 6, 3, 1};
  Tensor lab = labels_of(y);
  Tensor xr = rand_input({N, D}, rng);
  Tensor xb = branch_rows(w, y, rng);
  for (MarginKind kind : {MarginKind::additive, MarginKind::angular})
    for (bool easy : {false, true})
      for (bool by_columns : {false, true}) {
        if (kind == MarginKind::additive && easy) continue;
        CAPTURE(int(kind));
        CAPTURE(easy);
        CAPTURE(by_columns);
        MarginSoftmaxOptions o{kind, 0.5, 12, easy, by_columns};
        Tensor wl = by_columns ? transpose(w, 0, 1).contiguous().detach().set_requires_grad(true) : w;
        for (const Tensor& x : {xr, xb})
          gradcheck([&](const std::vector<Tensor>& in) { return margin_softmax_ce(in[0], in[1], lab, o).loss; },
                    {x, wl});
      }
  // Only one input wanting a gradient: the other is skipped, the wanted one is right.
  Tensor wc = w.detach();
  gradcheck([&](const std::vector<Tensor>& in) {
    return margin_softmax_ce(in[0], wc, lab, {MarginKind::angular, 0.2, 30, false, false}).loss;
  }, {xr});
}

TEST_CASE("margin_softmax_ce: errors name the op and the shapes") {
  Tensor x = Tensor::zeros({4, 3}), w = Tensor::zeros({5, 3});
  const MarginSoftmaxOptions o;
  CHECK_THROWS_WITH_AS(margin_softmax_ce(x, w, labels_of({0, 1, 2, 5}), o),
                       doctest::Contains("margin_softmax_ce: label 5 in row 3 is outside [0, 5)"), Error);
  CHECK_THROWS_WITH_AS(margin_softmax_ce(x, Tensor::zeros({5, 4}), labels_of({0, 1, 2, 3}), o),
                       doctest::Contains("margin_softmax_ce: x f32(4, 3)"), Error);
  CHECK_THROWS_WITH_AS(margin_softmax_ce(x, w, labels_of({0, 1, 2}), o),
                       doctest::Contains("margin_softmax_ce: labels must be i64 (4)"), Error);
  CHECK_THROWS_WITH_AS(margin_softmax_ce(x, w.to(DType::f64), labels_of({0, 1, 2, 3}), o),
                       doctest::Contains("differ in device or dtype"), Error);
  CHECK_THROWS_WITH_AS(margin_softmax_ce(x, w, labels_of({0, 1, 2, 3}), {MarginKind::angular, 0.1, 0, false, false}),
                       doctest::Contains("margin_softmax_ce: margin 0.1 and scale 0"), Error);
}

// ---------------------------------------------------------------- similarity_ce

TEST_CASE("similarity_ce: values and predictions against loops (rows / both directions, eps rules, bias)") {
  Rng rng(7);
  const int64_t N = 6, D = 5;
  Tensor a = Tensor::uniform({N, D}, rng, -1, 1, DType::f64), b = Tensor::uniform({N, D}, rng, -1, 1, DType::f64);
  for (bool sym : {false, true})
    for (CosineEps rule : {CosineEps::product, CosineEps::per_row})
      for (bool with_bias : {false, true}) {
        CAPTURE(sym);
        CAPTURE(int(rule));
        CAPTURE(with_bias);
        SimilarityCeOptions o{sym, rule, rule == CosineEps::product ? 1e-8 : 1e-12};
        RefOut r = ref_similarity(a, b, 7.5, with_bias ? -3.0 : 0.0, o);
        for (DType dt : {DType::f64, DType::f32}) {
          Tensor bias = with_bias ? Tensor::scalar(-3.0, dt) : Tensor();
          FusedLossOutput out = similarity_ce(a.to(dt), b.to(dt), Tensor::scalar(7.5, dt), bias, o);
          const double tol = dt == DType::f64 ? 1e-13 : 2e-6;
          test::expect_close(out.loss, {r.loss}, tol, tol, "loss");
          CHECK(out.pred.to_vector<int64_t>() == r.pred);
          CHECK(out.pred_t.defined() == sym);
          if (sym) CHECK(out.pred_t.to_vector<int64_t>() == r.pred_t);
        }
      }
}

TEST_CASE("similarity_ce: the two eps rules differ only for tiny norms, as cosine_matrix and l2_normalize do") {
  // ‖a‖ = 1e-5, ‖b‖ = 1e-5: product rule a·b / max(1e-10, 1e-8) = 0.01; per-row rule with eps 1e-12 gives 1.
  Tensor a = Tensor::from_vector(std::vector<double>{1e-5, 0}, {1, 2}, DType::f64);
  Tensor w = Tensor::scalar(1.0, DType::f64);
  // One row: CE of a single logit is 0 whatever the cosine; use two rows and read the logits off the loss.
  Tensor a2 = concat({a, Tensor::from_vector(std::vector<double>{0, 1}, {1, 2}, DType::f64)}, 0);
  for (CosineEps rule : {CosineEps::product, CosineEps::per_row}) {
    SimilarityCeOptions o{false, rule, rule == CosineEps::product ? 1e-8 : 1e-12};
    test::expect_close(similarity_ce(a2, a2, w, Tensor(), o).loss, {ref_similarity(a2, a2, 1.0, 0.0, o).loss}, 1e-14,
                       1e-12, rule == CosineEps::product ? "product eps" : "per-row eps");
  }
  // A zero row: finite gradients everywhere.
  Tensor z = Tensor::from_vector(std::vector<double>{0, 0, 0.5, -1}, {2, 2}, DType::f64).set_requires_grad(true);
  Tensor wl = Tensor::scalar(10.0, DType::f64).set_requires_grad(true);
  similarity_ce(z, z, wl, Tensor(), {true, CosineEps::product, 1e-8}).loss.backward();
  for (double g : z.grad().to_double()) CHECK(std::isfinite(g));
  CHECK(std::isfinite(wl.grad().item()));
}

SPK_GRADCHECK_CASE(similarity_ce, "rows / both directions, product and per-row eps, with and without bias") {
  Rng rng(13);
  const int64_t N = 5, D = 3;
  Tensor a = rand_input({N, D}, rng), b = rand_input({N, D}, rng);
  Tensor w = Tensor::scalar(4.0, DType::f64).set_requires_grad(true);
  Tensor bias = Tensor::scalar(-1.5, DType::f64).set_requires_grad(true);
  for (bool sym : {false, true})
    for (CosineEps rule : {CosineEps::product, CosineEps::per_row}) {
      CAPTURE(sym);
      CAPTURE(int(rule));
      SimilarityCeOptions o{sym, rule, rule == CosineEps::product ? 1e-8 : 1e-12};
      gradcheck([&](const std::vector<Tensor>& in) { return similarity_ce(in[0], in[1], in[2], in[3], o).loss; },
                {a, b, w, bias});
      gradcheck([&](const std::vector<Tensor>& in) { return similarity_ce(in[0], in[1], in[2], Tensor(), o).loss; },
                {a, b, w});
    }
  // a and b the same tensor (gradients from both slots add up), only a wanting a gradient.
  gradcheck([&](const std::vector<Tensor>& in) {
    return similarity_ce(in[0], in[0], w.detach(), Tensor(), {true, CosineEps::product, 1e-8}).loss;
  }, {a});
}

TEST_CASE("similarity_ce: f32 fused equals the composed angleproto / anglecontrast / infonce losses") {
  Rng rng(19);
  const int64_t N = 40, D = 64;
  Tensor a = Tensor::normal({N, D}, rng, 0, 1, DType::f32), b = Tensor::normal({N, D}, rng, 0, 1, DType::f32);
  Tensor w = Tensor::scalar(10.0), bias = Tensor::scalar(-5.0);
  Tensor target = Tensor::arange(N);
  // angleproto: CE(w·cos + b) over rows
  expect_same_loss("angleproto",
      [&](const std::vector<Tensor>& in) { return similarity_ce(in[0], in[1], in[2], in[3], {}).loss; },
      [&](const std::vector<Tensor>& in) {
        return cross_entropy(add(mul(cosine_matrix(in[0], in[1], 1e-8), in[2]), in[3]), target);
      },
      {a, b, w, bias});
  // anglecontrast: ½[CE(wS + b) + CE(wSᵀ + b)]
  expect_same_loss("anglecontrast",
      [&](const std::vector<Tensor>& in) { return similarity_ce(in[0], in[1], in[2], in[3], {true}).loss; },
      [&](const std::vector<Tensor>& in) {
        Tensor cs = cosine_matrix(in[0], in[1], 1e-8);
        Tensor z1 = add(mul(cs, in[2]), in[3]), z2 = add(mul(transpose(cs, 0, 1), in[2]), in[3]);
        return mul_scalar(add(cross_entropy(z1, target), cross_entropy(z2, target)), 0.5);
      },
      {a, b, w, bias});
  // infonce: P = τ·X̂Ŷᵀ, ½[CE(P) + CE(Pᵀ)], no bias
  Tensor tau = Tensor::scalar(2.659260036932778);
  expect_same_loss("infonce",
      [&](const std::vector<Tensor>& in) {
        return similarity_ce(in[0], in[1], in[2], Tensor(), {true, CosineEps::per_row, 1e-12}).loss;
      },
      [&](const std::vector<Tensor>& in) {
        Tensor p = mul(matmul(l2_normalize(in[0], 1, 1e-12), transpose(l2_normalize(in[1], 1, 1e-12), 0, 1)), in[2]);
        return mul_scalar(add(cross_entropy(p, target), cross_entropy(transpose(p, 0, 1), target)), 0.5);
      },
      {a, b, tau});
}

TEST_CASE("similarity_ce: errors name the op and the shapes") {
  Tensor a = Tensor::zeros({4, 3}), w = Tensor::scalar(1.0);
  CHECK_THROWS_WITH_AS(similarity_ce(a, Tensor::zeros({5, 3}), w, Tensor(), {}),
                       doctest::Contains("similarity_ce: expected a and b (N, D) of one shape"), Error);
  CHECK_THROWS_WITH_AS(similarity_ce(a, a, Tensor::ones({1}), Tensor(), {}),
                       doctest::Contains("similarity_ce: w must be a scalar ()"), Error);
  CHECK_THROWS_WITH_AS(similarity_ce(a, a, w, Tensor::ones({2}), {}),
                       doctest::Contains("similarity_ce: bias must be a scalar () or undefined"), Error);
  CHECK_THROWS_WITH_AS(similarity_ce(a, a, w, Tensor(), {false, CosineEps::product, 0}),
                       doctest::Contains("similarity_ce: eps 0 must be positive"), Error);
}
