// Two-view contrastive losses (anglecontrast, uniformity, cel, infonce, aam_infonce, ssl_infonce): values
// against plain loops on the seed projects' formulas, finite-difference gradients (embeddings, w, b,
// logit_scale, the AAM weight), metrics on separable pairs, and the settings that select variants.
#include <cmath>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/anglecontrast.h"
#include "losses/cel.h"
#include "losses/infonce.h"
#include "losses/ssl_infonce.h"
#include "losses/uniformity.h"
#include "ref.h"

using namespace spk;
using test::rand_input;

namespace {

// Pairs whose two views sit near the same axis: speaker i along axis i.
Tensor separable_pairs(int64_t n, int64_t d, Rng& rng) {
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t k = 0; k < d; ++k) v.push_back((k == i ? 2.0 : 0.0) + rng.uniform(-0.1, 0.1));
  return Tensor::from_vector(v, {n, 2, d}, DType::f64).set_requires_grad(true);
}

// log mean over pairs of exp(−t‖a − b‖²); `pairs` lists (i, j) of rows of a and b.
double log_mean_kernel(const ref::Mat& a, const ref::Mat& b, double t, bool upper_only) {
  double s = 0, cnt = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < b.size(); ++j)
      if (upper_only ? j > i : j != i) { s += std::exp(-t * ref::sq_dist(a[i], b[j])); ++cnt; }
  return std::log(s / cnt);
}

double kernel_sum(const ref::Mat& a, const ref::Mat& b, double t, bool upper_only) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < b.size(); ++j)
      if (upper_only ? j > i : j != i) s += std::exp(-t * ref::sq_dist(a[i], b[j]));
  return s;
}

double anglecontrast_ref(const std::vector<ref::Mat>& g, double w, double b, double* acc = nullptr) {
  const size_t n = g.size();
  ref::Mat z(n, ref::Vec(n));
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < n; ++k) z[i][k] = w * ref::cosine(g[i][1], g[k][0]) + b;
  ref::Mat zt = ref::transpose(z);
  if (acc) *acc = (ref::top1(z, ref::diag_labels(n)) + ref::top1(zt, ref::diag_labels(n))) / 2;
  return (ref::ce(z, ref::diag_labels(n)) + ref::ce(zt, ref::diag_labels(n))) / 2;
}

double uniformity_ref(const std::vector<ref::Mat>& g, const std::string& kind, double t) {
  ref::Mat u1 = ref::member(g, 0), u2 = ref::member(g, 1);
  if (kind == "PoN") return (log_mean_kernel(u1, u1, t, true) + log_mean_kernel(u2, u2, t, true)) / 2;
  if (kind == "APN") {
    ref::Mat all;
    for (const auto& grp : g) { all.push_back(grp[0]); all.push_back(grp[1]); }
    return log_mean_kernel(all, all, t, true);
  }
  const double k = double(g.size());
  return std::log((kernel_sum(u1, u1, t, true) + kernel_sum(u2, u2, t, true) + kernel_sum(u1, u2, t, false)) /
                  (k * (k - 1) / 2 + k * (k - 1) / 2 + k * (k - 1)));
}

std::vector<ref::Mat> normalized(std::vector<ref::Mat> g) {
  for (auto& grp : g)
    for (auto& v : grp) v = ref::normalize(v);
  return g;
}

// HardNeg: P = τ·X̂Ŷᵀ; infonce = ½[CE(P) + CE(Pᵀ)], aam_infonce applies the row-normalised AAM (m, s) first.
double clip_ref(const std::vector<ref::Mat>& g, double tau, bool row_margin, double* acc = nullptr) {
  const size_t n = g.size();
  ref::Mat p(n, ref::Vec(n));
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < n; ++k) p[i][k] = tau * ref::dot(ref::normalize(g[i][0]), ref::normalize(g[k][1]));
  if (acc) *acc = ref::top1(p, ref::diag_labels(n));
  auto term = [&](const ref::Mat& z) {
    if (!row_margin) return ref::ce(z, ref::diag_labels(n));
    return ref::ce(ref::arc_logits(ref::normalize_rows(z), ref::diag_labels(n), 0.2, 10, false, false),
                   ref::diag_labels(n));
  };
  return (term(p) + term(ref::transpose(p))) / 2;
}

// HardNeg's AAMsoftmax (m 0.2, s 30) on view 1.
double hardneg_aam_ref(const std::vector<ref::Mat>& g, const ref::Mat& w, const ref::Labels& y, double* acc) {
  ref::Mat cos(g.size(), ref::Vec(w.size()));
  for (size_t i = 0; i < g.size(); ++i)
    for (size_t c = 0; c < w.size(); ++c) cos[i][c] = ref::dot(ref::normalize(g[i][0]), ref::normalize(w[c]));
  ref::Mat z = ref::arc_logits(cos, y, 0.2, 30, false, false);
  *acc = ref::top1(z, y);
  return ref::ce(z, y);
}

}  // namespace

TEST_CASE("anglecontrast: ½[CE(wS + b) + CE(wSᵀ + b)], S_ik = cos(x[i,1], x[k,0])") {
  Rng rng(401);
  AngleContrastLoss loss(ref::f64_config(3, 2, 2), rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"w", "b"});
  Tensor x = rand_input({5, 2, 3}, rng);
  double acc = 0;
  const double expect = anglecontrast_ref(ref::groups(x), 10, -5, &acc);
  LossOutput out = loss.forward(x, Tensor());
  test::expect_close(out.loss, {expect}, 1e-12, 1e-11, "anglecontrast");
  CHECK(out.metric == doctest::Approx(acc));
  ref::gradcheck_loss(loss, x, Tensor());
  CHECK(loss.forward(separable_pairs(3, 3, rng), Tensor()).metric == 100.0);
}

TEST_CASE("uniformity: PoN, APN and AN on normalised embeddings, t = 2") {
  Rng rng(402);
  Tensor x = rand_input({4, 2, 3}, rng);
  for (const char* kind : {"PoN", "APN", "AN"}) {
    CAPTURE(kind);
    auto cfg = ref::f64_config(3, 2, 2);
    cfg.sample_type = kind;
    UniformityLoss loss(cfg, rng);
    CHECK(loss.parameters().empty());
    LossOutput out = loss.forward(x, Tensor());
    test::expect_close(out.loss, {uniformity_ref(normalized(ref::groups(x)), kind, 2.0)}, 1e-12, 1e-11, "uniformity");
    CHECK(out.metric_kind == MetricKind::none);
    CHECK(out.metric == 0.0);
    ref::gradcheck_loss(loss, x, Tensor());
  }
  auto cfg = ref::f64_config(3, 2, 2);
  cfg.uniform_t = 0.5;
  UniformityLoss t05(cfg, rng);
  test::expect_close(t05.forward(x, Tensor()).loss, {uniformity_ref(normalized(ref::groups(x)), "PoN", 0.5)}, 1e-12,
                     1e-11, "t 0.5");
  CHECK_THROWS_WITH_AS(t05.forward(Tensor::ones({1, 2, 3}, DType::f64), Tensor()),
                       doctest::Contains("uniformity: needs at least 2 speakers per batch"), Error);
}

TEST_CASE("cel: λ_s·L_sim + λ_u·L_unif; normalised for angular sims, raw for proto") {
  Rng rng(403);
  Tensor x = rand_input({4, 2, 3}, rng);
  auto cfg = ref::f64_config(3, 2, 2);
  cfg.lambda_s = 0.7;
  cfg.lambda_u = 1.5;
  CELLoss cel(cfg, rng);
  CHECK(ref::param_names(cel) == std::vector<std::string>{"sim.w", "sim.b"});
  CHECK(cel.test_normalize());
  auto gn = normalized(ref::groups(x));
  double acc = 0;
  const double expect = 0.7 * anglecontrast_ref(gn, 10, -5, &acc) + 1.5 * uniformity_ref(gn, "PoN", 2.0);
  LossOutput out = cel.forward(x, Tensor());
  test::expect_close(out.loss, {expect}, 1e-12, 1e-11, "cel anglecontrast");
  CHECK(out.metric == doctest::Approx(acc));
  ref::gradcheck_loss(cel, x, Tensor());

  // proto: no normalisation anywhere, and evaluation does not normalise either.
  cfg.sim_loss = "proto";
  CELLoss celp(cfg, rng);
  CHECK_FALSE(celp.test_normalize());
  auto g = ref::groups(x);
  ref::Mat z(4, ref::Vec(4));
  for (size_t i = 0; i < 4; ++i)
    for (size_t k = 0; k < 4; ++k) z[i][k] = -ref::sq_dist(g[i][0], g[k][1], 1e-6);
  test::expect_close(celp.forward(x, Tensor()).loss,
                     {0.7 * ref::ce(z, ref::diag_labels(4)) + 1.5 * uniformity_ref(g, "PoN", 2.0)}, 1e-12, 1e-11,
                     "cel proto");
  ref::gradcheck_loss(celp, x, Tensor());

  cfg.sim_loss = "angleproto";
  CELLoss cela(cfg, rng);
  CHECK(ref::param_names(cela) == std::vector<std::string>{"sim.w", "sim.b"});
  ref::Mat za(4, ref::Vec(4));
  for (size_t i = 0; i < 4; ++i)
    for (size_t k = 0; k < 4; ++k) za[i][k] = 10 * ref::cosine(gn[i][0], gn[k][1]) - 5;
  test::expect_close(cela.forward(x, Tensor()).loss,
                     {0.7 * ref::ce(za, ref::diag_labels(4)) + 1.5 * uniformity_ref(gn, "PoN", 2.0)}, 1e-12, 1e-11,
                     "cel angleproto");
}

TEST_CASE("infonce: symmetric CLIP loss with a linear (not exp) learnable logit scale") {
  Rng rng(404);
  InfoNCELoss loss(ref::f64_config(3, 4, 2), rng, false);
  CHECK(loss.name() == "infonce");
  CHECK(ref::param_names(loss) == std::vector<std::string>{"logit_scale"});
  CHECK(loss.logit_scale.item() == doctest::Approx(std::log(1 / 0.07)).epsilon(1e-15));
  Tensor x = rand_input({5, 2, 3}, rng);
  double acc = 0;
  const double expect = clip_ref(ref::groups(x), std::log(1 / 0.07), false, &acc);
  LossOutput out = loss.forward(x, Tensor());
  test::expect_close(out.loss, {expect}, 1e-12, 1e-11, "infonce");
  CHECK(out.metric == doctest::Approx(acc));
  loss.logit_scale.fill_(-1.5);   // used as is: no exp, no clamp
  test::expect_close(loss.forward(x, Tensor()).loss, {clip_ref(ref::groups(x), -1.5, false)}, 1e-12, 1e-11, "tau -1.5");
  ref::gradcheck_loss(loss, x, Tensor());
  CHECK(loss.forward(separable_pairs(3, 3, rng), Tensor()).metric == 0.0);   // τ < 0 ranks the positives last
  loss.logit_scale.fill_(2.0);
  CHECK(loss.forward(separable_pairs(3, 3, rng), Tensor()).metric == 100.0);

  // HardNeg's --loss infonce total: 0.2·clip + 0.8·AAMsoftmax(view 1), metric from the classifier.
  auto cfg = ref::f64_config(3, 6, 2);
  cfg.infonce_aam_mix = "true";
  InfoNCELoss mixed(cfg, rng, false);
  CHECK(ref::param_names(mixed) == std::vector<std::string>{"logit_scale", "aam.weight"});
  ref::Labels y{3, 1, 0, 2, 5};
  double cls_acc = 0;
  const double cls = hardneg_aam_ref(ref::groups(x), ref::rows(mixed.aam->weight), y, &cls_acc);
  LossOutput mo = mixed.forward(x, ref::labels(y));
  test::expect_close(mo.loss, {0.2 * clip_ref(ref::groups(x), std::log(1 / 0.07), false) + 0.8 * cls}, 1e-12, 1e-11,
                     "infonce + aam");
  CHECK(mo.metric == doctest::Approx(cls_acc));
  // The diagonal targets assume one pair per speaker: a repeated speaker's later pairs are dropped, as HardNeg's
  // collate drops them (tests/losses/test_blip_loss.cpp checks the values).
  LossOutput dedup = mixed.forward(x, ref::labels({3, 1, 0, 2, 1}));
  CHECK(dedup.warning == "infonce: 1 pair(s) of a speaker already in the batch dropped (HardNeg's collate keeps the "
                         "first of each)");
  test::expect_close(dedup.loss, mixed.forward(slice(x, 0, 0, 4), ref::labels({3, 1, 0, 2})).loss.to_double(), 1e-15,
                     1e-15, "first pair of each speaker");
}

TEST_CASE("aam_infonce: AAM (m 0.2, s 10) on row-normalised logits, mixed 0.2/0.8 with AAM-softmax") {
  Rng rng(405);
  auto cfg = ref::f64_config(3, 4, 2);
  InfoNCELoss loss(cfg, rng, true);
  CHECK(loss.name() == "aam_infonce");
  CHECK(ref::param_names(loss) == std::vector<std::string>{"logit_scale", "aam.weight"});
  CHECK(loss.aam->weight.shape() == Shape{4, 3});
  Tensor x = rand_input({4, 2, 3}, rng);
  ref::Labels y{2, 0, 3, 1};
  double acc = 0;
  const double cls = hardneg_aam_ref(ref::groups(x), ref::rows(loss.aam->weight), y, &acc);
  const double expect = 0.2 * clip_ref(ref::groups(x), std::log(1 / 0.07), true) + 0.8 * cls;
  LossOutput out = loss.forward(x, ref::labels(y));
  test::expect_close(out.loss, {expect}, 1e-12, 1e-11, "aam_infonce");
  CHECK(out.metric == doctest::Approx(acc));
  ref::gradcheck_loss(loss, x, ref::labels(y));

  // Without the mix: the margin contrastive term alone (labels optional).
  cfg.infonce_aam_mix = "false";
  InfoNCELoss pure(cfg, rng, true);
  CHECK(ref::param_names(pure) == std::vector<std::string>{"logit_scale"});
  test::expect_close(pure.forward(x, Tensor()).loss, {clip_ref(ref::groups(x), std::log(1 / 0.07), true)}, 1e-12, 1e-11,
                     "aam_infonce, no mix");
  ref::gradcheck_loss(pure, x, Tensor());
  CHECK_THROWS_WITH_AS(loss.forward(x, Tensor()), doctest::Contains("aamsoftmax: labels must be i64 (4)"), Error);
}

TEST_CASE("ssl_infonce: one-directional, tau 0.07, TensorFlow's l2_normalize epsilon") {
  Rng rng(406);
  SSLInfoNCELoss loss(ref::f64_config(3, 2, 2), rng);
  CHECK(loss.parameters().empty());
  Tensor x = rand_input({5, 2, 3}, rng);
  auto g = ref::groups(x);
  ref::Mat z(5, ref::Vec(5));
  for (size_t i = 0; i < 5; ++i)
    for (size_t k = 0; k < 5; ++k) z[i][k] = ref::dot(ref::normalize(g[i][0], 1e-6), ref::normalize(g[k][1], 1e-6)) / 0.07;
  LossOutput out = loss.forward(x, Tensor());
  test::expect_close(out.loss, {ref::ce(z, ref::diag_labels(5))}, 1e-12, 1e-11, "ssl infonce");
  CHECK(out.metric == doctest::Approx(ref::top1(z, ref::diag_labels(5))));
  ref::gradcheck_loss(loss, x, Tensor());
  // A tiny embedding (norm 1e-7 < 1e-6) is divided by 1e-6, not by its norm.
  Tensor tiny = Tensor::from_vector(std::vector<double>{1e-7, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0}, {2, 2, 3}, DType::f64);
  // x0 = (1e-7, 0, 0) / 1e-6 = (0.1, 0, 0), y0 = (1, 0, 0), x1 = y1 = (0, 1, 0).
  ref::Mat zz{{0.1 / 0.07, 0}, {0, 1 / 0.07}};
  test::expect_close(loss.forward(tiny, Tensor()).loss, {ref::ce(zz, ref::diag_labels(2))}, 1e-12, 1e-11, "eps");
  CHECK(loss.forward(separable_pairs(4, 4, rng), Tensor()).metric == 100.0);
}
