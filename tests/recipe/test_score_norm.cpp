// Cohort construction and AS-/S-norm against hand-worked numbers and a plain double-precision re-computation.
#include <algorithm>
#include <cmath>
#include <functional>

#include "apps/recipe/score_norm.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;

TEST_CASE("build_cohort: speaker means minus the global mean, L2-normalised, speakers sorted") {
  // Rows: b (0, 3), a (2, 0), c (-1, -1), a (4, 0). Global mean over the 4 rows = (5/4, 2/4) = (1.25, 0.5).
  // a: mean (3, 0) − m = (1.75, −0.5), norm √3.3125;  b: (0, 3) − m = (−1.25, 2.5), norm √7.8125;
  // c: (−1, −1) − m = (−2.25, −1.5), norm √7.3125.
  Tensor emb = Tensor::from_vector(std::vector<double>{0, 3, 2, 0, -1, -1, 4, 0}, {4, 2}, DType::f64);
  Cohort c = build_cohort(emb, {"b", "a", "c", "a"});
  CHECK(c.speakers == std::vector<std::string>{"a", "b", "c"});
  const double na = std::sqrt(3.3125), nb = std::sqrt(7.8125), nc = std::sqrt(7.3125);
  test::expect_close(c.embeddings, {1.75 / na, -0.5 / na, -1.25 / nb, 2.5 / nb, -2.25 / nc, -1.5 / nc}, 1e-15, 1e-13,
                     "cohort rows");
  test::expect_close(c.mean, {1.25, 0.5}, 1e-15, 1e-14, "global mean");
  CHECK(c.embeddings.dtype() == DType::f64);
  CHECK(build_cohort(emb.to(DType::f32), {"b", "a", "c", "a"}).embeddings.dtype() == DType::f32);
}

TEST_CASE("cohort_stats and normalize_scores: hand-worked AS-norm and S-norm") {
  // e = (2, 0) -> (1, 0) after normalisation; cohort rows (1, 0), (0, 1), (−1, 0), (0.6, 0.8) (a row of
  // norm 2 too, which cohort_stats normalises again): cosines 1, 0, −1, 0.6.
  //   top 2: {1, .6}      mean .8,   population std .2
  //   top 3: {1, .6, 0}   mean 1.6/3, std sqrt(((1 − m)² + (.6 − m)² + m²) / 3)
  //   all 4:              mean .15,  std sqrt((.7225 + .0225 + 1.3225 + .2025) / 4) = sqrt(.5675)
  Tensor e = Tensor::from_vector(std::vector<double>{2, 0}, {1, 2}, DType::f64);
  Tensor cohort = Tensor::from_vector(std::vector<double>{1, 0, 0, 2, -1, 0, 0.6, 0.8}, {4, 2}, DType::f64);
  CohortStats t2 = cohort_stats(e, cohort, 2);
  CHECK(t2.mean[0] == doctest::Approx(0.8).epsilon(1e-14));
  CHECK(t2.std[0] == doctest::Approx(0.2).epsilon(1e-13));
  CohortStats t3 = cohort_stats(e, cohort, 3);
  const double m3 = 1.6 / 3;
  CHECK(t3.mean[0] == doctest::Approx(m3).epsilon(1e-14));
  CHECK(t3.std[0] == doctest::Approx(std::sqrt(((1 - m3) * (1 - m3) + (.6 - m3) * (.6 - m3) + m3 * m3) / 3)).epsilon(1e-13));
  for (int64_t n : {int64_t(0), int64_t(4), int64_t(100)}) {   // S-norm: the whole cohort
    CohortStats all = cohort_stats(e, cohort, n);
    CHECK(all.mean[0] == doctest::Approx(0.15).epsilon(1e-13));
    CHECK(all.std[0] == doctest::Approx(std::sqrt(0.5675)).epsilon(1e-13));
  }
  // Trial (0, 1) with raw 0.5, enrol stats (.8, .2), test stats (.15, √.5675):
  //   ½ [ (.5 − .8) / .2 + (.5 − .15) / √.5675 ] = ½ [ −1.5 + .35 / .753325...] = −0.51769...
  CohortStats two{{0.8, 0.15}, {0.2, std::sqrt(0.5675)}};
  std::vector<double> s = normalize_scores({0.5, 0.5}, {{0, 1}, {1, 1}}, two);
  CHECK(s[0] == doctest::Approx(0.5 * (-1.5 + 0.35 / std::sqrt(0.5675))).epsilon(1e-14));
  CHECK(s[1] == doctest::Approx(0.35 / std::sqrt(0.5675)).epsilon(1e-14));
}

TEST_CASE("cosine_scores_normed against a double-precision loop (AS-norm top 3 and S-norm, odd batches)") {
  Rng rng(311);
  const int64_t N = 23, D = 5, F = 6;
  Tensor train = Tensor::normal({N, D}, rng, 0.4, 1.0, DType::f64);
  std::vector<std::string> spk;
  for (int64_t i = 0; i < N; ++i) spk.push_back("s" + std::to_string((i * 7) % 5));   // 5 speakers, unsorted
  Tensor utts = Tensor::normal({F, D}, rng, 0.4, 1.0, DType::f64);
  const std::vector<TrialPair> trials = {{0, 1}, {2, 3}, {4, 5}, {5, 0}, {3, 3}};

  // Reference, all in double: cohort, stats and the normalised scores from the formulas of score_norm.h.
  const std::vector<double> tv = train.to_double(), uv = utts.to_double();
  std::vector<double> m(size_t(D), 0.0);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t k = 0; k < D; ++k) m[size_t(k)] += tv[size_t(i * D + k)] / double(N);
  std::vector<std::vector<double>> coh;
  for (int s = 0; s < 5; ++s) {
    std::vector<double> r(size_t(D), 0.0);
    int cnt = 0;
    for (int64_t i = 0; i < N; ++i)
      if (spk[size_t(i)] == "s" + std::to_string(s)) {
        ++cnt;
        for (int64_t k = 0; k < D; ++k) r[size_t(k)] += tv[size_t(i * D + k)];
      }
    double nrm = 0;
    for (int64_t k = 0; k < D; ++k) r[size_t(k)] = r[size_t(k)] / cnt - m[size_t(k)], nrm += r[size_t(k)] * r[size_t(k)];
    for (double& x : r) x /= std::sqrt(nrm);
    coh.push_back(r);
  }
  auto unit = [&](int64_t f) {
    std::vector<double> v(static_cast<size_t>(D));
    double nrm = 0;
    for (int64_t k = 0; k < D; ++k) v[size_t(k)] = uv[size_t(f * D + k)] - m[size_t(k)], nrm += v[size_t(k)] * v[size_t(k)];
    for (double& x : v) x /= std::sqrt(nrm);
    return v;
  };
  auto dot = [](const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
    return s;
  };
  auto stats = [&](int64_t f, size_t n) {
    std::vector<double> c;
    for (const auto& r : coh) c.push_back(dot(unit(f), r));
    std::sort(c.begin(), c.end(), std::greater<double>());
    double mu = 0, var = 0;
    for (size_t k = 0; k < n; ++k) mu += c[k] / double(n);
    for (size_t k = 0; k < n; ++k) var += (c[k] - mu) * (c[k] - mu) / double(n);
    return std::pair<double, double>{mu, std::sqrt(var)};
  };

  Cohort cohort = build_cohort(train, spk);
  REQUIRE(cohort.speakers.size() == 5);
  for (int64_t top_n : {int64_t(3), int64_t(0)}) {
    const size_t n = top_n > 0 ? size_t(top_n) : 5;
    for (int64_t batch_rows : {int64_t(1), int64_t(4), int64_t(1024)}) {
      NormedScores got = cosine_scores_normed(utts, trials, cohort, top_n, batch_rows);
      for (size_t t = 0; t < trials.size(); ++t) {
        const double raw = dot(unit(trials[t].enrol), unit(trials[t].test));
        auto [me, se] = stats(trials[t].enrol, n);
        auto [mt, st] = stats(trials[t].test, n);
        CHECK(got.raw[t] == doctest::Approx(raw).epsilon(1e-12));
        CHECK(got.normed[t] == doctest::Approx(0.5 * ((raw - me) / se + (raw - mt) / st)).epsilon(1e-10));
      }
    }
  }
  // f32 end to end stays within float rounding of the double result.
  NormedScores d = cosine_scores_normed(utts, trials, cohort, 3);
  NormedScores f = cosine_scores_normed(utts.to(DType::f32), trials, build_cohort(train.to(DType::f32), spk), 3);
  for (size_t t = 0; t < trials.size(); ++t) CHECK(f.normed[t] == doctest::Approx(d.normed[t]).epsilon(1e-4));
}

TEST_CASE("score normalisation errors") {
  using doctest::Contains;
  CHECK_THROWS_WITH_AS(build_cohort(Tensor::zeros({3, 2}), {"a", "b"}), Contains("3 embeddings but 2 speaker labels"),
                       Error);
  CHECK_THROWS_WITH_AS(build_cohort(Tensor::zeros({2, 2}), {"a", ""}), Contains("embedding 1 has an empty speaker"),
                       Error);
  Tensor nan_row = Tensor::from_vector(std::vector<double>{1, 2, std::nan(""), 0}, {2, 2}, DType::f64);
  CHECK_THROWS_WITH_AS(build_cohort(nan_row, {"a", "b"}), Contains("embedding 1 has a non-finite value at 0"), Error);
  Tensor e = Tensor::from_vector(std::vector<double>{1, 0}, {1, 2}, DType::f64);
  Tensor cohort = Tensor::from_vector(std::vector<double>{1, 0, 0, 1}, {2, 2}, DType::f64);
  CHECK_THROWS_WITH_AS(cohort_stats(e, cohort, 1), Contains("embedding 0 has top-1 cohort scores"), Error);
  CHECK_THROWS_WITH_AS(cohort_stats(e, Tensor::zeros({2, 3}, DType::f64), 2), Contains("cohort_stats: expected"), Error);
  CohortStats st{{0.1}, {0.2}};
  CHECK_THROWS_WITH_AS(normalize_scores({0.3}, {{0, 1}}, st), Contains("trial 0 refers to files (0, 1)"), Error);
  CHECK_THROWS_WITH_AS(normalize_scores({0.3, 0.1}, {{0, 0}}, st), Contains("2 scores but 1 trials"), Error);
}
