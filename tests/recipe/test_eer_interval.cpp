// The bootstrap confidence interval of the VT EER (losses/verification.h): every replicate against a plain
// double loop that materialises the resampled trial list and calls vt_eer on it (same draws, exact equality),
// the percentile interval's properties (contains the point EER, reproducible for a seed, narrower with more
// trials), numpy's linear quantile, and the errors for bad arguments.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/rng.h"
#include "losses/verification.h"
#include "support/check.h"

using namespace spk;

namespace {

// The same 10-trial set test_metrics.cpp works by hand (ties across classes at 0.8 and 0.6).
const std::vector<double> kTiesScores = {0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.5, 0.4, 0.3, 0.2};
const std::vector<int> kTiesLabels = {1, 1, 0, 1, 0, 1, 0, 1, 0, 0};

struct Trials {
  std::vector<double> scores;
  std::vector<int> labels;
};

// Targets ~ N(d, 1), non-targets ~ N(0, 1), rounded to `step` (0: not rounded) so that many scores tie
// within and across the classes.
Trials gaussian_trials(int64_t n_target, int64_t n_nontarget, double d, double step, uint64_t seed) {
  Rng rng(seed);
  Trials t;
  for (int64_t i = 0; i < n_target + n_nontarget; ++i) {
    const int label = i % (1 + n_nontarget / n_target) == 0 && n_target > 0 ? 1 : 0;
    double s = rng.normal() + (label ? d : 0.0);
    if (step > 0) s = std::round(s / step) * step;
    t.scores.push_back(s);
    t.labels.push_back(label);
  }
  return t;
}

// tests/data/metrics/cosine_2000.txt's trials (float32 cosine-like scores, 10 % targets).
Trials golden_cosine_2000() {
  const auto path = std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "metrics" /
                    "cosine_2000.txt";
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "cannot open ", path.string());
  Trials t;
  for (std::string line; std::getline(f, line);) {
    std::istringstream s(line);
    std::string kind, score;
    int label = -1;
    s >> kind;
    if (kind != "trial") continue;
    s >> score >> label;
    t.scores.push_back(std::stod(score));
    t.labels.push_back(label);
  }
  REQUIRE(t.scores.size() == 2000);
  return t;
}

// The bootstrap as the header describes it, written the obvious way: replicate b draws from
// Rng(seed).fork(b) N_tgt target indices, then N_non non-target indices (each class in input order), builds
// the resampled list and asks vt_eer.
std::vector<double> reference_bootstrap(const Trials& t, int64_t resamples, uint64_t seed) {
  std::vector<size_t> targets, nontargets;
  for (size_t i = 0; i < t.labels.size(); ++i) (t.labels[i] ? targets : nontargets).push_back(i);
  std::vector<double> eers;
  for (int64_t b = 0; b < resamples; ++b) {
    Rng rng = Rng(seed).fork(uint64_t(b));
    std::vector<double> scores;
    std::vector<int> labels;
    for (size_t k = 0; k < targets.size(); ++k) {
      const size_t i = targets[size_t(rng.randint(0, int64_t(targets.size())))];
      scores.push_back(t.scores[i]);
      labels.push_back(1);
    }
    for (size_t k = 0; k < nontargets.size(); ++k) {
      const size_t i = nontargets[size_t(rng.randint(0, int64_t(nontargets.size())))];
      scores.push_back(t.scores[i]);
      labels.push_back(0);
    }
    eers.push_back(vt_eer(scores, labels).eer);
  }
  return eers;
}

void check_against_reference(const Trials& t, int64_t resamples, uint64_t seed) {
  const std::vector<double> got = vt_eer_bootstrap(t.scores, t.labels, resamples, seed);
  const std::vector<double> want = reference_bootstrap(t, resamples, seed);
  REQUIRE(got.size() == want.size());
  size_t distinct = 0;
  for (size_t b = 0; b < got.size(); ++b) {
    INFO("replicate ", b, ": got ", got[b], ", want ", want[b]);
    CHECK(got[b] == want[b]);
    distinct += got[b] != got[0];
  }
  CHECK(distinct > 0);   // the replicates differ, so the comparison is not of constants
}

}  // namespace

TEST_CASE("every bootstrap replicate equals vt_eer on the materialised resample, bit for bit") {
  SUBCASE("hand-worked tie set") { check_against_reference({kTiesScores, kTiesLabels}, 300, 7); }
  SUBCASE("500 Gaussian trials rounded to 0.05: ties within and across classes") {
    check_against_reference(gaussian_trials(100, 400, 2.0, 0.05, 3), 100, 11);
  }
  SUBCASE("golden cosine_2000 (float32 scores)") { check_against_reference(golden_cosine_2000(), 30, 0); }
  SUBCASE("two targets and two non-targets") {
    check_against_reference({{0.3, 0.5, 0.7, 0.4}, {1, 0, 1, 0}}, 50, 1);
  }
}

TEST_CASE("the percentile interval contains the point EER and is reproducible for a seed") {
  const Trials t = golden_cosine_2000();
  const EerInterval ci = vt_eer_confidence_interval(t.scores, t.labels, 0.95, 1000, 42);
  CHECK(ci.eer == vt_eer(t.scores, t.labels).eer);
  CHECK(ci.eer == doctest::Approx(5.5).epsilon(1e-12));   // the golden file's sklearn VT EER
  CHECK(ci.low < ci.eer);
  CHECK(ci.eer < ci.high);
  CHECK(ci.level == 0.95);
  CHECK(ci.resamples == 1000);
  CHECK(ci.seed == 42);
  // 200 targets at EER ~5.5 %: the binomial standard error of the miss rate alone is ~1.6 points, so a
  // 95 % interval is some points wide, not a hair and not the whole range.
  CHECK(ci.high - ci.low > 1.0);
  CHECK(ci.high - ci.low < 15.0);

  const EerInterval again = vt_eer_confidence_interval(t.scores, t.labels, 0.95, 1000, 42);
  CHECK(again.low == ci.low);
  CHECK(again.high == ci.high);
  const EerInterval other = vt_eer_confidence_interval(t.scores, t.labels, 0.95, 1000, 43);
  CHECK((other.low != ci.low || other.high != ci.high));

  // A lower level sits inside the higher one (same replicates: same seed and count).
  const EerInterval half = vt_eer_confidence_interval(t.scores, t.labels, 0.5, 1000, 42);
  CHECK(half.low >= ci.low);
  CHECK(half.high <= ci.high);
  CHECK(half.high - half.low < ci.high - ci.low);
  CHECK(half.low <= ci.eer);
  CHECK(ci.eer <= half.high);
}

TEST_CASE("the interval narrows with more trials from the same score distributions") {
  // d' = 2.5: EER = Phi(-1.25) ~ 10.6 %. 100x the trials -> about a tenth of the width.
  const Trials small = gaussian_trials(100, 900, 2.5, 0, 5);
  const Trials large = gaussian_trials(10000, 90000, 2.5, 0, 6);
  const EerInterval cs = vt_eer_confidence_interval(small.scores, small.labels, 0.95, 200, 1);
  const EerInterval cl = vt_eer_confidence_interval(large.scores, large.labels, 0.95, 200, 1);
  INFO("small: ", cs.eer, " [", cs.low, ", ", cs.high, "]  large: ", cl.eer, " [", cl.low, ", ", cl.high, "]");
  CHECK(cs.low <= cs.eer);
  CHECK(cs.eer <= cs.high);
  CHECK(cl.low <= cl.eer);
  CHECK(cl.eer <= cl.high);
  CHECK(cl.eer == doctest::Approx(10.56).epsilon(0.05));
  CHECK(cl.high - cl.low < 0.25 * (cs.high - cs.low));
  CHECK(cl.high - cl.low > 0.02 * (cs.high - cs.low));
}

TEST_CASE("linear_quantile is numpy.quantile's default method") {
  // numpy.quantile([3, 1, 4, 2], q): 0 -> 1, 0.25 -> 1.75, 0.5 -> 2.5, 0.975 -> 3.925, 1 -> 4.
  const std::vector<double> v = {3, 1, 4, 2};
  CHECK(linear_quantile(v, 0.0) == 1.0);
  CHECK(linear_quantile(v, 0.25) == doctest::Approx(1.75).epsilon(1e-15));
  CHECK(linear_quantile(v, 0.5) == doctest::Approx(2.5).epsilon(1e-15));
  CHECK(linear_quantile(v, 0.975) == doctest::Approx(3.925).epsilon(1e-15));
  CHECK(linear_quantile(v, 1.0) == 4.0);
  CHECK(linear_quantile({7.5}, 0.3) == 7.5);
  CHECK_THROWS_WITH_AS(linear_quantile({}, 0.5), doctest::Contains("no values"), Error);
  CHECK_THROWS_WITH_AS(linear_quantile(v, 1.5), doctest::Contains("not in [0, 1]"), Error);
}

TEST_CASE("bad bootstrap arguments raise errors that say what is wrong") {
  CHECK_THROWS_WITH_AS(vt_eer_confidence_interval(kTiesScores, kTiesLabels, 0.0), doctest::Contains("level 0"),
                       Error);
  CHECK_THROWS_WITH_AS(vt_eer_confidence_interval(kTiesScores, kTiesLabels, 1.0), doctest::Contains("level 1"),
                       Error);
  CHECK_THROWS_WITH_AS(vt_eer_confidence_interval(kTiesScores, kTiesLabels, 0.95, 1),
                       doctest::Contains("resamples must be >= 2"), Error);
  CHECK_THROWS_WITH_AS(vt_eer_bootstrap(kTiesScores, kTiesLabels, 0, 0), doctest::Contains("resamples must be >= 1"),
                       Error);
  CHECK_THROWS_WITH_AS(vt_eer_bootstrap({0.1, 0.2}, {1, 1}, 10, 0), doctest::Contains("no non-target"), Error);
}
