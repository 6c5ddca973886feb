// DINO (losses/dino.h): the teacher-temperature and teacher-momentum schedules on hand values, the cross-entropy
// on a tiny input against an independent double loop and its finite-difference gradient, the tanh GELU, the
// head's unit prototypes, the teacher starting as an exact copy, after_step's centre and EMA, and two crops
// refused naming --ssl_local_views.
#include <cmath>

#include "engine/layers.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/dino.h"
#include "ref.h"

using namespace spk;

namespace {

struct TinyEncoder : Module {
  std::shared_ptr<Linear> fc;
  TinyEncoder(int64_t in, int64_t out, Rng& rng) {
    fc = register_module("fc", std::make_shared<Linear>(in, out, rng, true, DType::f64));
  }
  Tensor forward(const Tensor& f) { return fc->forward(f); }
};

LossConfig tiny_config() {
  LossConfig c;
  c.nOut = 3;
  c.dino_hidden = 5;
  c.dino_bottleneck = 4;
  c.dino_out = 6;
  c.dtype = DType::f64;
  return c;
}

}  // namespace

TEST_CASE("dino: teacher temperature and momentum schedules") {
  // 30 epochs: int(30 · 0.2) = 6 warm-up epochs, np.linspace(0.04, 0.07, 6), then 0.07.
  CHECK(dino_teacher_temp(0.04, 0.07, 0, 30) == doctest::Approx(0.04));
  CHECK(dino_teacher_temp(0.04, 0.07, 2, 30) == doctest::Approx(0.04 + 0.03 * 2 / 5));
  CHECK(dino_teacher_temp(0.04, 0.07, 5, 30) == doctest::Approx(0.07));
  CHECK(dino_teacher_temp(0.04, 0.07, 6, 30) == doctest::Approx(0.07));
  CHECK(dino_teacher_temp(0.04, 0.07, 0, 4) == doctest::Approx(0.07));   // int(0.8) = 0: no warm-up
  CHECK(dino_teacher_temp(0.04, 0.07, 0, 5) == doctest::Approx(0.04));   // one warm-up epoch: linspace(a, b, 1) = [a]
  // cos schedule from 0.996 at step 0 to 1 at the end, 0.998 half-way.
  CHECK(dino_teacher_momentum(0.996, 0, 100) == doctest::Approx(0.996));
  CHECK(dino_teacher_momentum(0.996, 50, 100) == doctest::Approx(0.998));
  CHECK(dino_teacher_momentum(0.996, 100, 100) == doctest::Approx(1.0));
}

TEST_CASE("dino: cross-entropy against a double loop, and its gradient") {
  const int64_t M = 3, N = 2, K = 4;
  const std::vector<double> sv = {0.3, -0.2, 0.5, 0.1, -0.4, 0.8, 0.0, 0.2, 0.6, 0.1, -0.3, -0.5,
                                  0.2, 0.2, 0.9, -0.1, -0.7, 0.4, 0.3, 0.3, 0.5, -0.6, 0.1, 0.0};   // (M·N, K)
  const std::vector<double> tv = {0.4, 0.1, -0.2, 0.3, 0.0, 0.5, 0.2, -0.1,
                                  -0.3, 0.6, 0.1, 0.2, 0.7, -0.2, 0.0, 0.4};   // (2N, K)
  const std::vector<double> cv = {0.05, -0.02, 0.1, 0.0};
  Tensor s = Tensor::from_vector(sv, {M * N, K}, DType::f64).set_requires_grad(true);
  const Tensor t = Tensor::from_vector(tv, {2 * N, K}, DType::f64);
  const Tensor c = Tensor::from_vector(cv, {1, K}, DType::f64);
  const double ts = 0.1, tt = 0.04;
  auto softmax_row = [&](const std::vector<double>& v, int64_t row, double scale, const std::vector<double>* sub) {
    std::vector<double> z(static_cast<size_t>(K));
    double mx = -1e300, tot = 0;
    for (int64_t k = 0; k < K; ++k) {
      z[size_t(k)] = (v[size_t(row * K + k)] - (sub ? (*sub)[size_t(k)] : 0.0)) / scale;
      mx = std::max(mx, z[size_t(k)]);
    }
    for (double& x : z) tot += std::exp(x - mx);
    for (double& x : z) x = std::exp(x - mx) / tot;
    return z;
  };
  double want = 0;
  int terms = 0;
  for (int64_t g = 0; g < 2; ++g)
    for (int64_t v = 0; v < M; ++v) {
      if (v == g) continue;
      double term = 0;
      for (int64_t i = 0; i < N; ++i) {
        const std::vector<double> p = softmax_row(tv, g * N + i, tt, &cv), q = softmax_row(sv, v * N + i, ts, nullptr);
        for (int64_t k = 0; k < K; ++k) term -= p[size_t(k)] * std::log(q[size_t(k)]) / double(N);
      }
      want += term;
      ++terms;
    }
  want /= terms;
  CHECK(terms == 4);
  CHECK(dino_cross_entropy(s, t, c, M, N, ts, tt).item() == doctest::Approx(want).epsilon(1e-12));
  spk::test::gradcheck([&](const std::vector<Tensor>& in) { return dino_cross_entropy(in[0], t, c, M, N, ts, tt); },
                       {s});
}

TEST_CASE("dino: tanh GELU, unit prototypes, teacher = student at the start; after_step's centre and EMA") {
  const Tensor g = gelu_tanh(Tensor::from_vector(std::vector<double>{-1.0, 0.0, 0.5, 2.0}, {4}, DType::f64));
  const std::vector<double> x = {-1.0, 0.0, 0.5, 2.0};
  for (size_t i = 0; i < 4; ++i) {
    const double want = 0.5 * x[i] * (1 + std::tanh(std::sqrt(2 / ref::kPi) * (x[i] + 0.044715 * std::pow(x[i], 3))));
    CHECK(g.to_double()[i] == doctest::Approx(want).epsilon(1e-14));
    CHECK(std::abs(want - 0.5 * x[i] * (1 + std::erf(x[i] / std::sqrt(2.0)))) < 1e-3);   // close to the erf form
  }

  Rng rng(11);
  DinoLoss loss(tiny_config(), rng);
  CHECK(ref::param_names(*loss.head) == std::vector<std::string>{"last_weight_v", "fc0.weight", "fc0.bias", "bn0.weight",
                                                                  "bn0.bias", "fc1.weight", "fc1.bias", "bn1.weight",
                                                                  "bn1.bias", "fc2.weight", "fc2.bias"});
  Rng e1(1), e2(2);
  auto student = std::make_shared<TinyEncoder>(2, 3, e1);
  auto teacher = std::make_shared<TinyEncoder>(2, 3, e2);
  loss.attach_encoder(teacher, [k = teacher.get()](const Tensor& f) { return k->forward(f); }, *student);
  CHECK(teacher->fc->weight.to_double() == student->fc->weight.to_double());   // deepcopy
  CHECK(loss.key_head->named_parameters()[0].second.to_double() == loss.head->named_parameters()[0].second.to_double());

  const int64_t M = 3, N = 4;
  std::vector<double> fv, xv;
  Rng d(5);
  for (int64_t i = 0; i < M * N * 2; ++i) fv.push_back(d.normal());
  for (int64_t i = 0; i < N * M * 3; ++i) xv.push_back(d.normal());
  const Tensor feats = Tensor::from_vector(fv, {M * N, 2}, DType::f64);
  const Tensor xs = Tensor::from_vector(xv, {N, M, 3}, DType::f64);
  // Teacher logits: unit prototypes, so every logit is a cosine.
  const Tensor tlog = loss.key_head->forward(teacher->forward(slice(feats, 0, 0, 2 * N)));
  for (double v : tlog.to_double()) CHECK(std::abs(v) <= 1.0 + 1e-12);

  loss.set_step_features(feats, M, N, {0, 10, 50, 100});   // half-way: momentum 0.998
  const LossOutput out = loss.forward(xs, Tensor());
  CHECK(std::isfinite(out.loss.item()));
  const ref::Mat t = ref::rows(loss.key_head->forward(teacher->forward(slice(feats, 0, 0, 2 * N))));
  // Move the student so the EMA shows: teacher ← 0.998 teacher + 0.002 student.
  Tensor w = student->fc->weight;
  w.copy_(add_scalar(w, 1.0));
  const ref::Mat tw = ref::rows(teacher->fc->weight), sw = ref::rows(student->fc->weight);
  loss.after_step(*student);
  CHECK(ref::rows(teacher->fc->weight)[1][1] == doctest::Approx(0.998 * tw[1][1] + 0.002 * sw[1][1]).epsilon(1e-14));
  // centre ← 0.9 · 0 + 0.1 · mean of the 2N teacher rows.
  for (int64_t k = 0; k < 6; ++k) {
    double m = 0;
    for (const ref::Vec& r : t) m += r[size_t(k)] / double(t.size());
    CHECK(loss.center.to_double()[size_t(k)] == doctest::Approx(0.1 * m).epsilon(1e-12));
  }
  // Two crops only: refused, naming the flag.
  loss.set_step_features(slice(feats, 0, 0, 2 * N), 2, N);
  CHECK_THROWS_WITH_AS(loss.forward(slice(xs, 1, 0, 2), Tensor()), doctest::Contains("--ssl_local_views"), Error);
}
