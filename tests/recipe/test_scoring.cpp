// Trial scoring: voxceleb_trainer's −mean crop distance and cosine scoring, single and batched, against plain
// loops and a few hand-worked values.
#include <cmath>

#include "apps/recipe/scoring.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;

namespace {

std::vector<double> row(const std::vector<double>& m, int64_t D, int64_t i) {
  return std::vector<double>(m.begin() + i * D, m.begin() + (i + 1) * D);
}

std::vector<double> normalized(std::vector<double> v) {
  double n = 0;
  for (double x : v) n += x * x;
  n = std::max(std::sqrt(n), 1e-12);
  for (double& x : v) x /= n;
  return v;
}

// −mean_{i,j} ||a_i − b_j|| over dense (na, D), (nb, D) host buffers.
double loop_vt_score(const std::vector<double>& a, int64_t na, const std::vector<double>& b, int64_t nb, int64_t D,
                     bool norm) {
  double total = 0;
  for (int64_t i = 0; i < na; ++i)
    for (int64_t j = 0; j < nb; ++j) {
      auto x = row(a, D, i), y = row(b, D, j);
      if (norm) x = normalized(x), y = normalized(y);
      double d2 = 0;
      for (int64_t k = 0; k < D; ++k) d2 += (x[size_t(k)] - y[size_t(k)]) * (x[size_t(k)] - y[size_t(k)]);
      total += std::sqrt(d2);
    }
  return -total / double(na * nb);
}

double loop_cosine(std::vector<double> a, std::vector<double> b) {
  a = normalized(a), b = normalized(b);
  double s = 0;
  for (size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
  return s;
}

}  // namespace

TEST_CASE("vt_score: hand-worked values") {
  // a = (1, 0); b = {(0, 1), (1, 0)}: distances √2 and 0 -> −√2/2.
  Tensor a = Tensor::from_vector(std::vector<double>{1, 0}, {1, 2}, DType::f64);
  Tensor b = Tensor::from_vector(std::vector<double>{0, 1, 1, 0}, {2, 2}, DType::f64);
  CHECK(vt_score(a, b, true) == doctest::Approx(-std::sqrt(2.0) / 2).epsilon(1e-14));
  // (2, 0) vs (0, 3): √13 raw, √2 after L2 normalisation (test_normalize).
  Tensor c = Tensor::from_vector(std::vector<double>{2, 0}, {1, 2}, DType::f64);
  Tensor d = Tensor::from_vector(std::vector<double>{0, 3}, {1, 2}, DType::f64);
  CHECK(vt_score(c, d, false) == doctest::Approx(-std::sqrt(13.0)).epsilon(1e-14));
  CHECK(vt_score(c, d, true) == doctest::Approx(-std::sqrt(2.0)).epsilon(1e-14));
  // Identical crops: distance 0 (the clamp keeps rounding from producing sqrt of a negative).
  CHECK(vt_score(b, b.clone(), true) == doctest::Approx(-std::sqrt(2.0) / 2).epsilon(1e-14));
  CHECK(vt_score(a, a.clone(), true) == 0.0);
  // A crop against itself is exactly 0 also in f32 with D = 512 (the |a|² + |b|² − 2a·b form gives ~3e-4).
  Rng rng(9);
  Tensor x = Tensor::normal({1, 512}, rng);
  CHECK(vt_score(x, x.clone(), true) == 0.0);
  CHECK(vt_scores(reshape(x, {1, 1, 512}), {{0, 0}}, false)[0] == 0.0);
}

TEST_CASE("vt_score and vt_scores against loops (f64 and f32, normalised or not, odd batch sizes)") {
  Rng rng(4242);
  const int64_t F = 5, n = 3, D = 7;
  Tensor crops64 = Tensor::normal({F, n, D}, rng, 0.2, 1.0, DType::f64);
  const std::vector<double> host = crops64.to_double();
  auto file = [&](int64_t f) { return std::vector<double>(host.begin() + f * n * D, host.begin() + (f + 1) * n * D); };
  const std::vector<TrialPair> trials = {{0, 1}, {1, 0}, {2, 2}, {4, 3}, {3, 0}, {0, 4}, {2, 1}};
  for (bool norm : {true, false}) {
    std::vector<double> want;
    for (const auto& t : trials) want.push_back(loop_vt_score(file(t.enrol), n, file(t.test), n, D, norm));
    for (const DType dt : {DType::f64, DType::f32}) {
      const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
      Tensor crops = crops64.to(dt);
      for (size_t i = 0; i < trials.size(); ++i) {
        Tensor ea = slice(crops, 0, trials[i].enrol, trials[i].enrol + 1).contiguous();
        Tensor eb = slice(crops, 0, trials[i].test, trials[i].test + 1).contiguous();
        CHECK(vt_score(reshape(ea, {n, D}), reshape(eb, {n, D}), norm) == doctest::Approx(want[i]).epsilon(tol));
      }
      for (int64_t batch : {1, 2, 4, 1024}) {
        std::vector<double> got = vt_scores(crops, trials, norm, batch);
        REQUIRE(got.size() == trials.size());
        for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
      }
    }
  }
  // Different crop counts per side (a whole-utterance enrol against 3 crops).
  Tensor one = Tensor::from_vector(row(host, D, 0), {1, D}, DType::f64);
  Tensor three = Tensor::from_vector(file(1), {n, D}, DType::f64);
  CHECK(vt_score(one, three, true) == doctest::Approx(loop_vt_score(row(host, D, 0), 1, file(1), n, D, true)));
  CHECK(vt_scores(crops64, {}, true).empty());
}

TEST_CASE("cosine_score and cosine_scores against loops, with the mean over crops and mean subtraction") {
  Rng rng(77);
  const int64_t F = 4, D = 6;
  Tensor utts = Tensor::normal({F, D}, rng, 0.3, 1.0, DType::f64);
  Tensor mu = Tensor::normal({D}, rng, 0.0, 0.5, DType::f64);
  const std::vector<double> u = utts.to_double(), m = mu.to_double();
  const std::vector<TrialPair> trials = {{0, 1}, {2, 3}, {3, 3}, {1, 2}, {0, 3}};
  for (bool sub_mean : {false, true}) {
    std::vector<double> want;
    for (const auto& t : trials) {
      auto a = row(u, D, t.enrol), b = row(u, D, t.test);
      if (sub_mean)
        for (int64_t k = 0; k < D; ++k) a[size_t(k)] -= m[size_t(k)], b[size_t(k)] -= m[size_t(k)];
      want.push_back(loop_cosine(a, b));
    }
    Tensor mean_arg = sub_mean ? mu : Tensor();
    for (int64_t batch : {1, 3, 8192}) {
      std::vector<double> got = cosine_scores(utts, trials, mean_arg, batch);
      for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
    }
    std::vector<double> got32 = cosine_scores(utts.to(DType::f32), trials, sub_mean ? mu.to(DType::f32) : Tensor());
    for (size_t i = 0; i < got32.size(); ++i) CHECK(got32[i] == doctest::Approx(want[i]).epsilon(1e-5));
    Tensor a0 = reshape(slice(utts, 0, 0, 1), {D}), a1 = reshape(slice(utts, 0, 1, 2), {D});
    CHECK(cosine_score(a0, a1, mean_arg) == doctest::Approx(want[0]).epsilon(1e-12));
  }
  // (n, D) crops: the utterance embedding is their mean, before normalisation.
  Tensor crops = Tensor::normal({3, D}, rng, 0.0, 1.0, DType::f64);
  const std::vector<double> c = crops.to_double();
  std::vector<double> avg(size_t(D), 0.0);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t k = 0; k < D; ++k) avg[size_t(k)] += c[size_t(i * D + k)] / 3;
  test::expect_close(utterance_embedding(crops), avg, 1e-15, 1e-13, "mean over crops");
  CHECK(cosine_score(crops, reshape(slice(utts, 0, 2, 3), {D})) ==
        doctest::Approx(loop_cosine(avg, row(u, D, 2))).epsilon(1e-12));
}

TEST_CASE("scoring errors name the function and the shapes") {
  using doctest::Contains;
  Tensor e = Tensor::zeros({2, 3, 4});
  CHECK_THROWS_WITH_AS(vt_scores(e, {{0, 2}}, true), Contains("vt_scores: trial 0 refers to files (0, 2)"), Error);
  CHECK_THROWS_WITH_AS(vt_scores(Tensor::zeros({2, 4}), {{0, 1}}, true), Contains("expected crop embeddings (F, n, D)"),
                       Error);
  CHECK_THROWS_WITH_AS(vt_scores(e, {{0, 1}}, true, 0), Contains("batch must be positive"), Error);
  CHECK_THROWS_WITH_AS(vt_score(Tensor::zeros({2, 3}), Tensor::zeros({2, 4}), true), Contains("vt_score: expected"),
                       Error);
  CHECK_THROWS_WITH_AS(cosine_scores(Tensor::zeros({3, 4}), {{-1, 0}}), Contains("cosine_scores: trial 0"), Error);
  CHECK_THROWS_WITH_AS(cosine_scores(Tensor::zeros({3, 4}), {{0, 1}}, Tensor::zeros({5})),
                       Contains("does not match embeddings"), Error);
  CHECK_THROWS_WITH_AS(cosine_score(Tensor::zeros({3}), Tensor::zeros({4})), Contains("embedding sizes differ"), Error);
  CHECK_THROWS_WITH_AS(utterance_embedding(Tensor::zeros({2, 3, 4})), Contains("utterance_embedding: expected"), Error);
}

TEST_CASE("scoring on the GPU matches the CPU") {
  if (!test::gpu_or_skip()) return;
  Rng rng(5);
  Tensor crops = Tensor::normal({6, 10, 32}, rng);
  const std::vector<TrialPair> trials = {{0, 1}, {2, 3}, {4, 5}, {5, 0}, {1, 1}};
  Tensor gpu = crops.to(Device::cuda());
  for (bool norm : {true, false}) {
    auto cpu_s = vt_scores(crops, trials, norm), gpu_s = vt_scores(gpu, trials, norm, 2);
    for (size_t i = 0; i < trials.size(); ++i) CHECK(gpu_s[i] == doctest::Approx(cpu_s[i]).epsilon(1e-5));
  }
  Tensor utts = Tensor::normal({6, 32}, rng);
  auto c = cosine_scores(utts, trials), g = cosine_scores(utts.to(Device::cuda()), trials);
  for (size_t i = 0; i < trials.size(); ++i) CHECK(g[i] == doctest::Approx(c[i]).epsilon(1e-5));
}
