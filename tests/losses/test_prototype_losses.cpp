// Prototype-style losses (proto, angleproto, ge2e, softmaxproto): values against plain loops on the anchor
// formulas (pairwise_distance's eps, GE2E's exclusive centroids and its 1e-6 clamp, the unclamped w), gradients
// by finite differences w.r.t. the embeddings and w, b, the positional top-1 metric, and the label checks.
#include <cmath>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/angleproto.h"
#include "losses/ge2e.h"
#include "losses/proto.h"
#include "losses/softmaxproto.h"
#include "ref.h"

using namespace spk;
using test::rand_input;

namespace {

// Groups whose members all lie near a distinct axis: every prototype loss classifies them perfectly.
Tensor separable(int64_t n, int64_t m, int64_t d, Rng& rng) {
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j)
      for (int64_t k = 0; k < d; ++k) v.push_back((k == i ? 3.0 : 0.0) + rng.uniform(-0.1, 0.1));
  return Tensor::from_vector(v, {n, m, d}, DType::f64).set_requires_grad(true);
}

// The same groups with the speakers of rows 0 and 1 of the queries (member 0) swapped.
Tensor swap_queries(const Tensor& x) {
  std::vector<double> v = x.to_double();
  const int64_t m = x.size(1), d = x.size(2);
  for (int64_t k = 0; k < d; ++k) std::swap(v[size_t(k)], v[size_t(m * d + k)]);
  return Tensor::from_vector(v, x.shape(), DType::f64);
}

}  // namespace

TEST_CASE("proto: −‖q − c + 1e-6‖² over the N×N matrix, test_normalize false") {
  Rng rng(201);
  ProtoLoss loss(ref::f64_config(4, 2, 3), rng);
  CHECK_FALSE(loss.test_normalize());
  CHECK(loss.parameters().empty());
  Tensor x = rand_input({5, 3, 4}, rng);
  auto g = ref::groups(x);
  ref::Mat z(5, ref::Vec(5));
  for (size_t i = 0; i < 5; ++i)
    for (size_t k = 0; k < 5; ++k) z[i][k] = -ref::sq_dist(g[i][0], ref::mean_of(g[k], 1, 3), 1e-6);
  LossOutput out = loss.forward(x, Tensor());
  test::expect_close(out.loss, {ref::ce(z, ref::diag_labels(5))}, 1e-12, 1e-11, "proto CE");
  CHECK(out.metric == doctest::Approx(ref::top1(z, ref::diag_labels(5))));
  ref::gradcheck_loss(loss, x, Tensor());
  Tensor s = separable(4, 2, 4, rng);
  CHECK(loss.forward(s, ref::labels({7, 3, 5, 0})).metric == 100.0);
  CHECK(loss.forward(swap_queries(s), Tensor()).metric == 50.0);
}

TEST_CASE("angleproto: w·cos(q, c) + b with learnable, unclamped w and b") {
  Rng rng(202);
  auto cfg = ref::f64_config(4, 2, 3);
  AngleProtoLoss loss(cfg, rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"w", "b"});
  CHECK(loss.w.shape() == Shape{});
  CHECK(loss.w.item() == 10.0);
  CHECK(loss.b.item() == -5.0);
  Tensor x = rand_input({4, 3, 4}, rng);
  auto g = ref::groups(x);
  auto value = [&](double w, double b) {
    ref::Mat z(4, ref::Vec(4));
    for (size_t i = 0; i < 4; ++i)
      for (size_t k = 0; k < 4; ++k) z[i][k] = w * ref::cosine(g[i][0], ref::mean_of(g[k], 1, 3)) + b;
    return z;
  };
  LossOutput out = loss.forward(x, Tensor());
  test::expect_close(out.loss, {ref::ce(value(10, -5), ref::diag_labels(4))}, 1e-12, 1e-11, "angleproto CE");
  CHECK(out.metric == doctest::Approx(ref::top1(value(10, -5), ref::diag_labels(4))));
  // A negative w is used as is (the reference's clamp to 1e-6 is a no-op).
  loss.w.fill_(-2.0);
  test::expect_close(loss.forward(x, Tensor()).loss, {ref::ce(value(-2, -5), ref::diag_labels(4))}, 1e-12, 1e-11, "w < 0");
  loss.w.fill_(10.0);
  ref::gradcheck_loss(loss, x, Tensor());
  CHECK(loss.forward(separable(3, 2, 4, rng), Tensor()).metric == 100.0);
}

TEST_CASE("ge2e: exclusive centroids on the diagonal, cosines clamped at 1e-6, rows (i, j)") {
  Rng rng(203);
  GE2ELoss loss(ref::f64_config(4, 2, 3), rng);
  CHECK(ref::param_names(loss) == std::vector<std::string>{"w", "b"});
  Tensor x = rand_input({4, 3, 4}, rng);
  auto g = ref::groups(x);
  ref::Mat z;
  ref::Labels y;
  int clamped = 0;
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < 3; ++j) {
      ref::Vec row;
      for (size_t k = 0; k < 4; ++k) {
        ref::Vec c(4, 0.0);
        int cnt = 0;
        for (size_t jj = 0; jj < 3; ++jj) {
          if (k == i && jj == j) continue;
          for (size_t d = 0; d < 4; ++d) c[d] += g[k][jj][d];
          ++cnt;
        }
        for (double& v : c) v /= cnt;
        double cs = ref::cosine(g[i][j], c);
        if (cs < 1e-6) ++clamped;
        row.push_back(10 * std::max(cs, 1e-6) - 5);
      }
      z.push_back(row);
      y.push_back(int64_t(i));
    }
  REQUIRE(clamped > 0);   // the clamp is exercised
  LossOutput out = loss.forward(x, Tensor());
  test::expect_close(out.loss, {ref::ce(z, y)}, 1e-12, 1e-11, "ge2e CE");
  CHECK(out.metric == doctest::Approx(ref::top1(z, y)));
  ref::gradcheck_loss(loss, x, Tensor());
  // M = 2: the exclusive centroid is the other utterance.
  Tensor x2 = rand_input({3, 2, 4}, rng);
  ref::gradcheck_loss(loss, x2, Tensor());
  CHECK(loss.forward(separable(3, 3, 4, rng), Tensor()).metric == 100.0);
}

TEST_CASE("softmaxproto: CE over 2N rows with repeated labels + angleproto; the softmax top-1") {
  Rng rng(204);
  auto cfg = ref::f64_config(4, 6, 2);
  SoftmaxProtoLoss loss(cfg, rng);
  CHECK(ref::param_names(loss) ==
        std::vector<std::string>{"softmax.fc.weight", "softmax.fc.bias", "angleproto.w", "angleproto.b"});
  Tensor x = rand_input({3, 2, 4}, rng);
  ref::Labels y{5, 0, 2};
  auto g = ref::groups(x);
  ref::Mat w = ref::rows(loss.softmax->fc->weight);
  ref::Vec b = loss.softmax->fc->bias.to_double();
  ref::Mat zs;
  ref::Labels ys;
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 2; ++j) {
      ref::Vec row;
      for (size_t c = 0; c < 6; ++c) row.push_back(ref::dot(w[c], g[i][j]) + b[c]);
      zs.push_back(row);
      ys.push_back(y[i]);
    }
  ref::Mat zp(3, ref::Vec(3));
  for (size_t i = 0; i < 3; ++i)
    for (size_t k = 0; k < 3; ++k) zp[i][k] = 10 * ref::cosine(g[i][0], g[k][1]) - 5;
  LossOutput out = loss.forward(x, ref::labels(y));
  test::expect_close(out.loss, {ref::ce(zs, ys) + ref::ce(zp, ref::diag_labels(3))}, 1e-12, 1e-11, "softmaxproto");
  CHECK(out.metric == doctest::Approx(ref::top1(zs, ys)));
  ref::gradcheck_loss(loss, x, ref::labels(y));
  CHECK_THROWS_WITH_AS(loss.forward(x, Tensor()), doctest::Contains("softmaxproto: labels must be i64 (3)"), Error);
  // Metric: a classifier reading the axis of each group is right on every utterance, and on none when the
  // labels are rotated.
  auto c4 = ref::f64_config(4, 4, 2);
  SoftmaxProtoLoss sep(c4, rng);
  sep.softmax->fc->weight.copy_(ref::tensor({{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}));
  sep.softmax->fc->bias.zero_();
  Tensor s = separable(4, 2, 4, rng);
  CHECK(sep.forward(s, ref::labels({0, 1, 2, 3})).metric == 100.0);
  CHECK(sep.forward(s, ref::labels({1, 2, 3, 0})).metric == 0.0);
}

TEST_CASE("prototype losses: group size and positional-label errors") {
  Rng rng(205);
  AngleProtoLoss ap(ref::f64_config(4, 2, 2), rng);
  CHECK_THROWS_WITH_AS(ap.forward(Tensor::zeros({3, 1, 4}, DType::f64), Tensor()),
                       doctest::Contains("angleproto: needs nPerSpeaker >= 2"), Error);
  CHECK_THROWS_WITH_AS(ap.forward(Tensor::zeros({3, 4}, DType::f64), Tensor()),
                       doctest::Contains("angleproto: expected embeddings (N, M, D)"), Error);
  CHECK_THROWS_WITH_AS(ap.forward(Tensor::ones({3, 2, 4}, DType::f64), ref::labels({4, 1, 4})),
                       doctest::Contains("angleproto: speaker label 4 appears at rows 0 and 2"), Error);
  SoftmaxProtoLoss sp(ref::f64_config(4, 6, 2), rng);
  CHECK_THROWS_WITH_AS(sp.forward(Tensor::zeros({3, 3, 4}, DType::f64), ref::labels({0, 1, 2})),
                       doctest::Contains("softmaxproto: needs nPerSpeaker exactly 2"), Error);
}
