// pyannote-audio's losses (arc_linear, coco, center, pyannote_softmax, contrastive, pyannote_triplet): values on
// hand-worked inputs and against plain double loops written from pyannote's formulas
// (pyannote/audio/embedding/approaches/*.py), finite-difference gradients in double w.r.t. the embeddings and
// every parameter, the samplings on hand-made distance matrices, the no-valid-triplet case, parameter names,
// defaults and errors; and, with a GPU, the same losses on CUDA against the CPU.
#include <cmath>
#include <limits>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/arc_linear.h"
#include "losses/center.h"
#include "losses/coco.h"
#include "losses/contrastive.h"
#include "losses/metrics.h"
#include "losses/pyannote_softmax.h"
#include "losses/pyannote_triplet.h"
#include "ref.h"

using namespace spk;
using test::rand_input;

namespace {

const double kSqrt3 = std::sqrt(3.0);

// ½‖x̂_i − x̂_j‖², pyannote's "cosine" pdist, by the difference (not the matmul expansion the loss uses).
double pdist(const ref::Vec& a, const ref::Vec& b) { return 0.5 * ref::sq_dist(ref::normalize(a), ref::normalize(b)); }

// Rows x (B, D) or groups x (N, M, D) flattened, with each row's label.
struct Rows {
  ref::Mat x;
  ref::Labels y;
};
Rows labelled_rows(const Tensor& x, const ref::Labels& group_labels) {
  Rows r;
  auto g = ref::groups(x);
  for (size_t i = 0; i < g.size(); ++i)
    for (const auto& v : g[i]) {
      r.x.push_back(v);
      r.y.push_back(group_labels.empty() ? int64_t(i) : group_labels[i]);
    }
  return r;
}

// pyannote ContrastiveLoss.batch_loss, written as its loops.
double contrastive_ref(const Rows& r, double margin) {
  const double m = margin * 2;
  double total = 0;
  int64_t pairs = 0;
  for (size_t i = 0; i < r.x.size(); ++i)
    for (size_t j = i + 1; j < r.x.size(); ++j, ++pairs) {
      const double d = pdist(r.x[i], r.x[j]);
      total += r.y[i] == r.y[j] ? d * d : std::pow(std::max(m - d, 1e-8), 2);
    }
  return total / 2 / double(pairs);
}

// pyannote TripletLoss: batch_{sampling} and triplet_loss, written as its loops (numpy argmax / argmin: first).
double triplet_ref(const Rows& r, const std::string& sampling, const std::string& clamp, double margin,
                   int64_t* count = nullptr) {
  const size_t b = r.x.size();
  auto d = [&](size_t i, size_t j) { return pdist(r.x[i], r.x[j]); };
  std::vector<double> delta;
  for (size_t a = 0; a < b; ++a) {
    std::vector<size_t> pos, neg;
    for (size_t k = 0; k < b; ++k) {
      if (r.y[k] != r.y[a]) neg.push_back(k);
      else if (k != a) pos.push_back(k);
    }
    if (pos.empty() || neg.empty()) continue;
    size_t hp = pos[0], hn = neg[0];
    for (size_t p : pos) if (d(a, p) > d(a, hp)) hp = p;
    for (size_t n : neg) if (d(a, n) < d(a, hn)) hn = n;
    if (sampling == "hard") delta.push_back(d(a, hp) - d(a, hn));
    if (sampling == "negative") for (size_t p : pos) delta.push_back(d(a, p) - d(a, hn));
    if (sampling == "all" || sampling == "easy")
      for (size_t p : pos)
        for (size_t n : neg)
          if (sampling == "all" || d(a, p) <= d(a, n)) delta.push_back(d(a, p) - d(a, n));
  }
  if (count) *count = int64_t(delta.size());
  const double m = margin * 2;
  double total = 0;
  for (double v : delta) {
    if (clamp == "positive") total += std::max(v + m, 0.0);
    if (clamp == "softmargin") total += std::log1p(std::exp(v));
    if (clamp == "sigmoid") total += 1 / (1 + std::exp(-10 * (v + m)));
  }
  return total / double(delta.size());
}

// Four unit rows at 0°, 60° (speaker 0) and 90°, 180° (speaker 1), as x (2, 2, 2). Their distances 1 − cos:
// d01 = 0.5, d02 = 1, d03 = 2, d12 = 1 − √3/2, d13 = 1.5, d23 = 1.
Tensor four_rows() {
  return Tensor::from_vector({1, 0, 0.5, kSqrt3 / 2, 0, 1, -1, 0}, {2, 2, 2}, DType::f64);
}

LossConfig triplet_config(const std::string& sampling, const std::string& clamp, double margin = 0.2) {
  LossConfig c = ref::f64_config(4, 2, 2);
  c.pyannote_triplet_sampling = sampling;
  c.pyannote_triplet_clamp = clamp;
  c.pyannote_triplet_margin = margin;
  return c;
}

}  // namespace

TEST_CASE("pyannote losses: defaults are pyannote's class defaults") {
  LossConfig o;
  CHECK(o.pyannote_aam_margin == 0.1);
  CHECK(o.pyannote_aam_scale == 7.0);
  CHECK(o.pyannote_coco_alpha == 6.25);
  CHECK(o.pyannote_center_loss_weight == 1.0);
  CHECK_FALSE(o.pyannote_classifier_bias);
  CHECK(o.pyannote_contrastive_margin == 0.2);
  CHECK(o.pyannote_triplet_margin == 0.2);
  CHECK(o.pyannote_triplet_clamp == "positive");
  CHECK(o.pyannote_triplet_sampling == "all");
}

TEST_CASE("arc_linear: hand-worked value, loops, no threshold trick, the cosine clamp, gradients") {
  Rng rng(701);
  LossConfig cfg = ref::f64_config(2, 2, 1);
  ArcLinearLoss loss(cfg, rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"classifier.W"});
  CHECK(loss.classifier->W.shape() == Shape{2, 2});
  CHECK(loss.margin() == 0.1);
  CHECK(loss.classifier->s == 7.0);

  // x at 60° from W_0, 30° from W_1 (the norms of x and W do not matter): z = 7·[cos(π/3 + 0.1), √3/2].
  loss.classifier->W.copy_(ref::tensor({{3, 0}, {0, 2}}));
  Tensor x = ref::tensor({{2.5, 2.5 * kSqrt3}});
  const double z0 = 7 * std::cos(ref::kPi / 3 + 0.1), z1 = 7 * kSqrt3 / 2;
  const double hand = std::log(std::exp(z0) + std::exp(z1)) - z0;
  LossOutput out = loss.forward(x, ref::labels({0}));
  test::expect_close(out.loss, {hand}, 1e-13, 1e-12, "arc_linear hand-worked");
  CHECK(out.metric == 0.0);   // z1 > z0
  CHECK(loss.forward(x, ref::labels({1})).metric == 100.0);

  // No cos(π − m) threshold: at θ_y = 178°, θ + m = 178° + 0.1 rad > π and the target logit is cos(θ + m), above
  // cos θ (voxceleb_trainer's aamsoftmax would give cos θ − m·sin(π − m) instead).
  const double th = 178 * ref::kPi / 180;
  Tensor far = ref::tensor({{std::cos(th), std::sin(th)}});
  const double zt = 7 * std::cos(th + 0.1), zo = 7 * std::sin(th);
  CHECK(std::cos(th + 0.1) > std::cos(th));
  test::expect_close(loss.forward(far, ref::labels({0})).loss, {std::log(std::exp(zt) + std::exp(zo)) - zt}, 1e-13, 1e-12,
                     "arc_linear past pi - m");

  // cos_y = 1 is clamped to 1 − 1e-4 inside the margin term only: z_y = s·(1 + cos(acos(1 − 1e-4) + m) − (1 − 1e-4)).
  Tensor aligned = ref::tensor({{4, 0}});
  const double tc = 1 - 1e-4, zy = 7 * (1 + std::cos(std::acos(tc) + 0.1) - tc);
  test::expect_close(loss.forward(aligned, ref::labels({0})).loss, {std::log(std::exp(zy) + 1) - zy}, 1e-13, 1e-12,
                     "arc_linear clamped cosine");

  // Random batch against loops written with acos / cos; then the margin hook.
  LossConfig big = ref::f64_config(5, 6, 1);
  big.pyannote_aam_margin = 0.3;
  big.pyannote_aam_scale = 10;
  ArcLinearLoss arc(big, rng);
  Tensor xr = rand_input({7, 5}, rng);
  ref::Labels y{0, 5, 2, 2, 3, 1, 4};
  for (double m : {0.3, 0.05}) {
    arc.set_margin(m);
    ref::Mat xs = ref::rows(xr), w = ref::rows(arc.classifier->W), z(7, ref::Vec(6));
    for (size_t i = 0; i < 7; ++i)
      for (size_t c = 0; c < 6; ++c) {
        const double cos = ref::dot(ref::normalize(xs[i]), ref::normalize(w[c]));
        z[i][c] = 10 * (c == size_t(y[i]) ? std::cos(std::acos(std::clamp(cos, -1 + 1e-4, 1 - 1e-4)) + m) : cos);
      }
    LossOutput o = arc.forward(xr, ref::labels(y));
    test::expect_close(o.loss, {ref::ce(z, y)}, 1e-13, 1e-12, "arc_linear loops");
    CHECK(o.metric == doctest::Approx(ref::top1(z, y)));
  }
  ref::gradcheck_loss(arc, xr, ref::labels(y));
  CHECK_THROWS_WITH_AS(arc.set_margin(-1), doctest::Contains("arc_linear: margin -1 must be in [0, pi)"), Error);

  // xavier_uniform: |W| <= sqrt(6 / (fan_in + fan_out)).
  LossConfig wide = ref::f64_config(40, 30, 1);
  ArcLinearLoss init(wide, rng);
  double worst = 0;
  for (double v : init.classifier->W.to_double()) worst = std::max(worst, std::abs(v));
  CHECK(worst <= std::sqrt(6.0 / 70));
  CHECK(worst > 0.9 * std::sqrt(6.0 / 70));
}

TEST_CASE("coco: hand-worked value, loops, gradients, centres") {
  Rng rng(702);
  CocoLoss loss(ref::f64_config(2, 2, 1), rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"classifier.centers"});
  CHECK(loss.classifier->alpha == 6.25);
  // randn centres, normalised only in the forward: their norms differ from 1.
  CHECK(std::abs(ref::norm(ref::rows(loss.classifier->centers)[0]) - 1) > 1e-6);

  // x at 60° from c_0 and 30° from c_1: z = 6.25·[1/2, √3/2].
  loss.classifier->centers.copy_(ref::tensor({{0.5, 0}, {0, 7}}));
  Tensor x = ref::tensor({{1, kSqrt3}});
  const double z0 = 6.25 * 0.5, z1 = 6.25 * kSqrt3 / 2;
  test::expect_close(loss.forward(x, ref::labels({0})).loss, {std::log(std::exp(z0) + std::exp(z1)) - z0}, 1e-13, 1e-12,
                     "coco hand-worked");

  LossConfig cfg = ref::f64_config(4, 5, 1);
  cfg.pyannote_coco_alpha = 3;
  CocoLoss coco(cfg, rng);
  Tensor xr = rand_input({6, 4}, rng);
  ref::Labels y{4, 0, 1, 1, 3, 2};
  ref::Mat xs = ref::rows(xr), c = ref::rows(coco.classifier->centers), z(6, ref::Vec(5));
  for (size_t i = 0; i < 6; ++i)
    for (size_t k = 0; k < 5; ++k) z[i][k] = 3 * ref::dot(ref::normalize(xs[i]), ref::normalize(c[k]));
  LossOutput out = coco.forward(xr, ref::labels(y));
  test::expect_close(out.loss, {ref::ce(z, y)}, 1e-13, 1e-12, "coco loops");
  CHECK(out.metric == doctest::Approx(ref::top1(z, y)));
  ref::gradcheck_loss(coco, xr, ref::labels(y));
}

TEST_CASE("pyannote_softmax: linear classifier without bias by default, loops, gradients") {
  Rng rng(703);
  PyannoteSoftmaxLoss loss(ref::f64_config(3, 4, 1), rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"classifier.weight"});
  Tensor x = rand_input({5, 3}, rng);
  ref::Labels y{3, 0, 1, 2, 0};
  ref::Mat xs = ref::rows(x), w = ref::rows(loss.classifier->weight), z(5, ref::Vec(4));
  for (size_t i = 0; i < 5; ++i)
    for (size_t c = 0; c < 4; ++c) z[i][c] = ref::dot(w[c], xs[i]);
  LossOutput out = loss.forward(x, ref::labels(y));
  test::expect_close(out.loss, {ref::ce(z, y)}, 1e-13, 1e-12, "pyannote_softmax loops");
  CHECK(out.metric == doctest::Approx(ref::top1(z, y)));
  ref::gradcheck_loss(loss, x, ref::labels(y));

  LossConfig biased = ref::f64_config(3, 4, 1);
  biased.pyannote_classifier_bias = true;
  PyannoteSoftmaxLoss with_bias(biased, rng);
  CHECK(ref::param_names(with_bias) == std::vector<std::string>{"classifier.weight", "classifier.bias"});
  ref::gradcheck_loss(with_bias, x, ref::labels(y));
}

TEST_CASE("center: classification + λ·centre term, hand-worked and loops; the centres learn") {
  Rng rng(704);
  CenterLoss loss(ref::f64_config(2, 3, 1), rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"classifier.weight", "center_dist.centers"});
  CHECK(loss.loss_weight() == 1.0);
  CHECK(loss.center_dist->centers.shape() == Shape{3, 2});

  // Hand-worked: W = 0 makes the CE ln 3; centres at 0°, 90°, 180°; rows at 60° (label 0) and 90° (label 1):
  // centre term = [(1 − 1/2)² + (1 − 1)²] / 2 / 2 = 1/16.
  loss.classifier->weight.copy_(ref::tensor({{0, 0}, {0, 0}, {0, 0}}));
  loss.center_dist->centers.copy_(ref::tensor({{2, 0}, {0, 3}, {-1, 0}}));
  Tensor x = ref::tensor({{0.5, kSqrt3 / 2}, {0, 5}});
  test::expect_close(loss.forward(x, ref::labels({0, 1})).loss, {std::log(3.0) + 1.0 / 16}, 1e-14, 1e-13,
                     "center hand-worked");

  LossConfig cfg = ref::f64_config(4, 5, 1);
  cfg.pyannote_center_loss_weight = 0.5;
  CenterLoss center(cfg, rng);
  Tensor xr = rand_input({6, 4}, rng);
  ref::Labels y{4, 0, 1, 1, 3, 0};   // class 2 is absent
  ref::Mat xs = ref::rows(xr), w = ref::rows(center.classifier->weight), c = ref::rows(center.center_dist->centers);
  ref::Mat z(6, ref::Vec(5));
  double ctr = 0;
  for (size_t i = 0; i < 6; ++i) {
    for (size_t k = 0; k < 5; ++k) z[i][k] = ref::dot(w[k], xs[i]);
    ctr += std::pow(1 - ref::cosine(xs[i], c[size_t(y[i])]), 2);
  }
  LossOutput out = center.forward(xr, ref::labels(y));
  test::expect_close(out.loss, {ref::ce(z, y) + 0.5 * ctr / 2 / 6}, 1e-13, 1e-12, "center loops");
  CHECK(out.metric == doctest::Approx(ref::top1(z, y)));

  // The centres are parameters with gradients: nonzero for the classes in the batch, zero for the absent one.
  out.loss.backward();
  ref::Mat gc = ref::rows(center.center_dist->centers.grad());
  for (size_t k = 0; k < 5; ++k) {
    CAPTURE(k);
    CHECK((ref::norm(gc[k]) > 1e-8) == (k != 2));
  }
  center.zero_grad();
  ref::gradcheck_loss(center, xr, ref::labels(y));
}

TEST_CASE("contrastive: hand-worked value over all pairs, loops, gradients, metric") {
  Rng rng(705);
  ContrastiveLoss loss(ref::f64_config(2, 2, 2), rng);
  CHECK(ref::param_names(loss).empty());
  CHECK(loss.metric_kind() == MetricKind::eer);
  // Pairs of four_rows(): same speaker (0,1) d 0.5 -> 0.25 and (2,3) d 1 -> 1; different (1,2) d 1 − √3/2 ->
  // (0.4 − d)²; (0,2), (0,3), (1,3) beyond m' = 0.4 -> (1e-8)² each. Sum / 2 / 6 pairs.
  const double hinge = 0.4 - (1 - kSqrt3 / 2);
  const double hand = (0.25 + 1 + hinge * hinge + 3e-16) / 12;
  LossOutput out = loss.forward(four_rows(), Tensor());
  test::expect_close(out.loss, {hand}, 1e-15, 1e-13, "contrastive hand-worked");
  // Scores −d: targets −0.5, −1; non-targets −1, −2, −0.134, −1.5: the non-target −0.134 outranks both targets.
  std::vector<double> s{-0.5, -1, -2, -(1 - kSqrt3 / 2), -1.5, -1};   // pairs 01 02 03 12 13 23
  CHECK(out.metric == doctest::Approx(vt_eer(s, {1, 0, 0, 0, 0, 1}).eer));
  CHECK(out.metric > 0);

  // (N, M, D) with labels (a speaker may repeat across groups) and the same rows as (B, D) with labels.
  LossConfig cfg = ref::f64_config(3, 2, 3);
  cfg.pyannote_contrastive_margin = 0.3;
  ContrastiveLoss c3(cfg, rng);
  Tensor x = rand_input({4, 3, 3}, rng);
  ref::Labels groups{7, 2, 7, 9};
  const double want = contrastive_ref(labelled_rows(x, groups), 0.3);
  test::expect_close(c3.forward(x, ref::labels(groups)).loss, {want}, 1e-14, 1e-12, "contrastive loops (N,M,D)");
  Rows r = labelled_rows(x, groups);
  test::expect_close(c3.forward(reshape(x, {12, 3}), ref::labels(r.y)).loss, {want}, 1e-14, 1e-12,
                     "contrastive loops (B,D)");
  CHECK(c3.forward(x, Tensor()).loss.item() == doctest::Approx(contrastive_ref(labelled_rows(x, {}), 0.3)).epsilon(1e-12));
  ref::gradcheck_loss(c3, x, ref::labels(groups));

  // Separable speakers: EER 0.
  Tensor sep = Tensor::from_vector({1, 0, 1, 0.1, 0, 1, 0.1, 1}, {2, 2, 2}, DType::f64);
  CHECK(loss.forward(sep, Tensor()).metric == 0.0);
}

TEST_CASE("pyannote_triplet samplings on hand-made distances") {
  // Speaker 0 = rows 0, 1, 2; speaker 1 = rows 3, 4. Symmetric d (diagonal ignored).
  const std::vector<int64_t> y{0, 0, 0, 1, 1};
  const std::vector<double> d{0,   0.2, 0.9, 0.5, 0.1,    //
                              0.2, 0,   0.3, 0.8, 0.4,    //
                              0.9, 0.3, 0,   0.6, 0.6,    //
                              0.5, 0.8, 0.6, 0,   0.7,    //
                              0.1, 0.4, 0.6, 0.7, 0};
  using T = std::array<int64_t, 3>;
  auto all = sample_triplets(TripletSampling::all, y, d);
  CHECK(all.size() == 3 * 2 * 2 + 2 * 1 * 3);   // anchors of speaker 0: 2 positives × 2 negatives; speaker 1: 1 × 3
  CHECK(all.front() == T{0, 1, 3});
  CHECK(all.back() == T{4, 3, 2});
  // hard: farthest positive, nearest negative; row 2's negatives tie at 0.6 -> the first (3).
  CHECK(sample_triplets(TripletSampling::hard, y, d) ==
        std::vector<T>{{0, 2, 4}, {1, 2, 4}, {2, 0, 3}, {3, 4, 0}, {4, 3, 0}});
  CHECK(sample_triplets(TripletSampling::negative, y, d) ==
        std::vector<T>{{0, 1, 4}, {0, 2, 4}, {1, 0, 4}, {1, 2, 4}, {2, 0, 3}, {2, 1, 3}, {3, 4, 0}, {4, 3, 0}});
  // easy: d(a, p) <= d(a, n) (ties kept: see the hand-worked case of four_rows()); row 4 has none.
  CHECK(sample_triplets(TripletSampling::easy, y, d) ==
        std::vector<T>{{0, 1, 3}, {1, 0, 3}, {1, 0, 4}, {1, 2, 3}, {1, 2, 4}, {2, 1, 3}, {2, 1, 4}, {3, 4, 1}});
  // Nothing to sample: every label once, or one label only.
  CHECK(sample_triplets(TripletSampling::all, {0, 1, 2}, std::vector<double>(9, 1.0)).empty());
  CHECK(sample_triplets(TripletSampling::hard, {5, 5, 5}, std::vector<double>(9, 1.0)).empty());
  CHECK_THROWS_WITH_AS(sample_triplets(TripletSampling::all, y, std::vector<double>(4, 0.0)),
                       doctest::Contains("sample_triplets: needs a 5×5 distance matrix, got 4 values"), Error);
}

TEST_CASE("pyannote_triplet: hand-worked values for each clamp and sampling") {
  Rng rng(706);
  // four_rows(): Δ of the 8 triplets of "all", by anchor: a0 (p1; n2, n3): −0.5, −1.5; a1 (p0; n2, n3):
  // √3/2 − 1/2, −1; a2 (p3; n0, n1): 0, √3/2; a3 (p2; n0, n1): −1, −0.5.
  const std::vector<double> all{-0.5, -1.5, kSqrt3 / 2 - 0.5, -1, 0, kSqrt3 / 2, -1, -0.5};
  auto mean_of = [](const std::vector<double>& v, auto f) {
    double s = 0;
    for (double e : v) s += f(e);
    return s / double(v.size());
  };
  auto positive = [](double v) { return std::max(v + 0.4, 0.0); };
  auto softmargin = [](double v) { return std::log1p(std::exp(v)); };
  auto sigmoid10 = [](double v) { return 1 / (1 + std::exp(-10 * (v + 0.4))); };
  Tensor x = four_rows();
  struct Case {
    const char* sampling;
    const char* clamp;
    double want;
    int64_t triplets;
  };
  const std::vector<double> hard{-0.5, kSqrt3 / 2 - 0.5, kSqrt3 / 2, -0.5};   // (0,1,2) (1,0,2) (2,3,1) (3,2,1)
  const std::vector<double> easy{-0.5, -1.5, -1, 0, -1, -0.5};               // Δ <= 0; (2,3,0) is a tie, kept
  const std::vector<Case> cases{
      {"all", "positive", (kSqrt3 + 0.7) / 8, 8},
      {"all", "softmargin", mean_of(all, softmargin), 8},
      {"all", "sigmoid", mean_of(all, sigmoid10), 8},
      {"hard", "positive", (kSqrt3 + 0.3) / 4, 4},
      {"negative", "softmargin", mean_of(hard, softmargin), 4},   // one positive per anchor: = hard
      {"easy", "positive", mean_of(easy, positive), 6},
      {"easy", "sigmoid", mean_of(easy, sigmoid10), 6},
  };
  for (const Case& c : cases) {
    CAPTURE(c.sampling);
    CAPTURE(c.clamp);
    PyannoteTripletLoss loss(triplet_config(c.sampling, c.clamp), rng);
    LossOutput out = loss.forward(x, Tensor());
    test::expect_close(out.loss, {c.want}, 1e-15, 1e-12, "pyannote_triplet hand-worked");
    CHECK(loss.last_triplets() == c.triplets);
    CHECK(out.warning.empty());
  }
  CHECK(mean_of(all, positive) == doctest::Approx((kSqrt3 + 0.7) / 8).epsilon(1e-14));
}

TEST_CASE("pyannote_triplet: loops for every sampling and clamp; gradients") {
  Rng rng(707);
  Tensor x = rand_input({3, 3, 4}, rng);
  ref::Labels groups{1, 0, 1};   // speaker 1 has six rows, speaker 0 three
  Rows r = labelled_rows(x, groups);
  for (const char* sampling : {"all", "hard", "negative", "easy"})
    for (const char* clamp : {"positive", "softmargin", "sigmoid"}) {
      CAPTURE(sampling);
      CAPTURE(clamp);
      PyannoteTripletLoss loss(triplet_config(sampling, clamp, 0.15), rng);
      int64_t count = 0;
      const double want = triplet_ref(r, sampling, clamp, 0.15, &count);
      LossOutput out = loss.forward(x, ref::labels(groups));
      test::expect_close(out.loss, {want}, 1e-14, 1e-12, "pyannote_triplet loops");
      CHECK(loss.last_triplets() == count);
      CHECK(count > 0);
      test::expect_close(loss.forward(reshape(x, {9, 4}), ref::labels(r.y)).loss, {want}, 1e-14, 1e-12, "(B, D)");
      ref::gradcheck_loss(loss, x, ref::labels(groups));
    }
}

TEST_CASE("pyannote_triplet: no valid triplet gives loss 0, zero gradients and a warning, never NaN") {
  Rng rng(708);
  // (B, D) with every label once: no positive anywhere.
  PyannoteTripletLoss loss(triplet_config("all", "positive"), rng);
  Tensor x = rand_input({4, 3}, rng).set_requires_grad(true);
  LossOutput out = loss.forward(x, ref::labels({0, 1, 2, 3}));
  CHECK(out.loss.item() == 0.0);
  CHECK(loss.last_triplets() == 0);
  CHECK(out.warning ==
        "pyannote_triplet: sampling 'all' found no valid triplet in this batch (4 embeddings of 4 speakers); the "
        "step's loss is 0 with no gradient");
  out.loss.backward();
  REQUIRE(x.grad().defined());
  for (double g : x.grad().to_double()) CHECK(g == 0.0);

  // One speaker only, hard sampling.
  PyannoteTripletLoss hard(triplet_config("hard", "sigmoid"), rng);
  LossOutput one = hard.forward(rand_input({1, 3, 3}, rng), ref::labels({4}));
  CHECK(one.loss.item() == 0.0);
  CHECK(one.warning.find("sampling 'hard' found no valid triplet in this batch (3 embeddings of 1 speakers)") !=
        std::string::npos);
  CHECK(one.metric == 0.0);   // no non-target pair: no EER

  // easy with nothing easy: each anchor's positive is farther than every negative.
  PyannoteTripletLoss easy(triplet_config("easy", "positive"), rng);
  Tensor crossed = Tensor::from_vector({1, 0, -1, 0, 0, 1, 0, -1}, {2, 2, 2}, DType::f64);   // d(a,p) 2, d(a,n) 1
  LossOutput e = easy.forward(crossed, Tensor());
  CHECK(e.loss.item() == 0.0);
  CHECK(easy.last_triplets() == 0);
  CHECK_FALSE(e.warning.empty());
  CHECK(std::isfinite(e.metric));
}

TEST_CASE("pyannote losses: input and configuration errors") {
  Rng rng(709);
  PyannoteTripletLoss loss(triplet_config("all", "positive"), rng);
  CHECK_THROWS_WITH_AS(loss.forward(rand_input({4, 3}, rng), Tensor()),
                       doctest::Contains("pyannote_triplet: embeddings (B, D) need labels i64 (4), got undefined"), Error);
  CHECK_THROWS_WITH_AS(loss.forward(rand_input({1, 3}, rng), ref::labels({0})),
                       doctest::Contains("pyannote_triplet: needs at least two embeddings to compare"), Error);
  CHECK_THROWS_WITH_AS(loss.forward(rand_input({4, 1, 3}, rng), Tensor()),
                       doctest::Contains("pyannote_triplet: needs nPerSpeaker >= 2"), Error);
  CHECK_THROWS_WITH_AS(loss.forward(rand_input({2, 2, 3}, rng), ref::labels({0, 1, 2})),
                       doctest::Contains("pyannote_triplet: labels must be i64 (2)"), Error);
  auto bad = [](const char* name, auto edit, const char* message) {
    LossConfig c;
    c.nOut = 4;
    c.nClasses = 3;
    PerSpeaker p;
    REQUIRE(loss_per_speaker(name, p));
    c.nPerSpeaker = p == PerSpeaker::one ? 1 : 2;
    edit(c);
    CAPTURE(name);
    CHECK_THROWS_WITH_AS(make_loss(name, c), doctest::Contains(message), Error);
  };
  bad("pyannote_triplet", [](LossConfig& c) { c.pyannote_triplet_clamp = "hinge"; },
      "pyannote_triplet: pyannote_triplet_clamp 'hinge' (positive, softmargin or sigmoid expected)");
  bad("pyannote_triplet", [](LossConfig& c) { c.pyannote_triplet_sampling = "semi"; },
      "pyannote_triplet: pyannote_triplet_sampling 'semi' (all, hard, negative or easy expected)");
  bad("pyannote_triplet", [](LossConfig& c) { c.pyannote_triplet_margin = std::nan(""); },
      "pyannote_triplet: pyannote_triplet_margin nan must be finite");
  bad("contrastive", [](LossConfig& c) { c.pyannote_contrastive_margin = -0.1; },
      "contrastive: pyannote_contrastive_margin -0.1 must be finite and >= 0");
  bad("arc_linear", [](LossConfig& c) { c.pyannote_aam_scale = 0; }, "arc_linear: pyannote_aam_scale 0 must be positive");
  bad("arc_linear", [](LossConfig& c) { c.pyannote_aam_margin = 4; },
      "arc_linear: pyannote_aam_margin 4 must be in [0, pi)");
  bad("coco", [](LossConfig& c) { c.pyannote_coco_alpha = -1; }, "coco: pyannote_coco_alpha -1 must be positive");
  bad("center", [](LossConfig& c) { c.pyannote_center_loss_weight = -1; },
      "center: pyannote_center_loss_weight -1 must be finite and >= 0");
  bad("center", [](LossConfig& c) { c.nClasses = 1; }, "center: nClasses 1 must be at least 2");
  bad("contrastive", [](LossConfig& c) { c.nPerSpeaker = 1; }, "contrastive: needs nPerSpeaker >= 2, got nPerSpeaker 1");

  // Labels outside [0, nClasses) are named by the loss before any per-class parameter is indexed.
  for (const char* name : {"arc_linear", "center", "coco", "pyannote_softmax"}) {
    CAPTURE(name);
    LossConfig c;
    c.nOut = 3;
    c.nClasses = 4;
    auto l = make_loss(name, c);
    Tensor y = ref::labels({1, 7});
    const bool own = std::string(name) == "arc_linear" || std::string(name) == "center";
    const std::string want = own ? std::string(name) + ": label 7 in row 1 is outside [0, nClasses = 4)"
                                 : "cross_entropy: label 7 in row 1 is outside [0, 4)";
    CHECK_THROWS_WITH_AS(l->forward(rand_input({2, 3}, rng).to(DType::f32), y), doctest::Contains(want.c_str()), Error);
  }
}

// The triplet samplings compare distances computed on each device; "easy" is left out, as an f32 rounding
// difference can move a triplet across its d(a, p) <= d(a, n) test.
TEST_CASE("pyannote losses on the GPU match the CPU") {
  if (!test::gpu_or_skip()) return;
  Rng rng(710);
  struct Case {
    const char* name;
    int64_t m;
    const char* sampling;
  };
  for (const Case& k : std::vector<Case>{{"arc_linear", 1, ""},    {"coco", 1, ""},
                                         {"center", 1, ""},        {"pyannote_softmax", 1, ""},
                                         {"contrastive", 3, ""},   {"pyannote_triplet", 3, "all"},
                                         {"pyannote_triplet", 3, "hard"}}) {
    CAPTURE(k.name);
    CAPTURE(k.sampling);
    LossConfig c;
    c.nOut = 32;
    c.nClasses = 50;
    c.nPerSpeaker = k.m;
    if (*k.sampling) c.pyannote_triplet_sampling = k.sampling;
    auto cpu = make_loss(k.name, c), gpu = make_loss(k.name, c);   // same seed: same parameters
    gpu->to(Device::cuda());
    Tensor x = Tensor::normal({16, k.m, c.nOut}, rng);
    std::vector<int64_t> yv;
    for (int64_t i = 0; i < 16; ++i) yv.push_back(rng.randint(0, k.m == 1 ? 50 : 6));
    Tensor y = Tensor::from_vector(yv, {16});
    Tensor xc = x.clone().set_requires_grad(true), xg = x.to(Device::cuda()).set_requires_grad(true);
    LossOutput oc = cpu->forward(xc, y), og = gpu->forward(xg, y.to(Device::cuda()));
    CHECK(og.loss.item() == doctest::Approx(oc.loss.item()).epsilon(1e-4));
    oc.loss.backward();
    og.loss.backward();
    test::expect_close(xg.grad().to(Device::cpu()), xc.grad(), 1e-6, 1e-3, std::string(k.name) + " dL/dx");
    auto pc = cpu->parameters(), pg = gpu->parameters();
    for (size_t i = 0; i < pc.size(); ++i)
      test::expect_close(pg[i].grad().to(Device::cpu()), pc[i].grad(), 1e-6, 1e-3, std::string(k.name) + " dL/dparam");
  }
}
