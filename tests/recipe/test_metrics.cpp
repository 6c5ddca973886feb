// EER (voxceleb_trainer's and the interpolated NIST one), minDCF and the DET curve against trial sets worked
// out by hand below, against golden numbers from sklearn (tests/data/metrics, made by
// scripts/make_metric_golden.py), and the errors for degenerate input.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "losses/verification.h"
#include "support/check.h"

using namespace spk;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

// The hand-worked set (10 trials, 5 targets, ties across classes at 0.8 and 0.6):
//   score  0.9 0.8 0.8 0.7 0.6 0.6 0.5 0.4 0.3 0.2
//   label   t   t   n   t   n   t   n   t   n   n
// sklearn ROC, descending, one point per distinct score (cumulative tp, fp):
//   0.9 (1,0)  0.8 (2,1)  0.7 (3,1)  0.6 (4,2)  0.5 (4,3)  0.4 (5,3)  0.3 (5,4)  0.2 (5,5)
// drop_intermediate keeps a point when the second difference of fp or tp is non-zero there: 0.3 sits on
// the straight run fp 3,4,5 / tp 5,5,5 and goes; all others are corners. With the (0, 0, +inf) start:
//   fpr  0  0   .2  .2  .4  .6  .6  1      fnr = 1 - tpr:  1  .8  .6  .4  .2  .2  0  0
//   tpr  0  .2  .4  .6  .8  .8  1   1      |fnr - fpr|:    1  .8  .4  .2  .2  .4  .6 1
// The first minimum is at 0.7 (fpr .2, fnr .4; 0.6 ties in exact arithmetic and loses by rounding),
// so VT's EER = max(.2, .4) = 40 %.
// Interpolated: ascending stable order .2n .3n .4t .5n .6n .6t .7t .8t .8n .9t gives
//   fnr 0 0 .2 .2 .2 .4 .6 .8 .8 1,  fpr .8 .6 .6 .4 .2 .2 .2 .2 0 0; fnr - fpr first >= 0 at index 4
//   (.2 vs .2); x2 = 3 (.2 vs .4); the crossing is at index 4 itself: EER 20 %, threshold 0.6.
// minDCF, p .05: C_det = .05 fnr + .95 fpr over the ten Kaldi points:
//   .76 .57 .58 .39 .20 .21 .22 .23 .04 .05 -> min .04 at the 9th point (score 0.8, the non-target);
//   C_def = min(.05, .95) = .05 -> 0.8. p .01: .008 at the same point / .01 -> 0.8.
//   p .5: .4 .3 .4 .3 .2 .3 .4 .5 .4 .5 -> .2 at the 5th point (score 0.6) / .5 -> 0.4.
const std::vector<double> kTiesScores = {0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.5, 0.4, 0.3, 0.2};
const std::vector<int> kTiesLabels = {1, 1, 0, 1, 0, 1, 0, 1, 0, 0};

std::filesystem::path golden_dir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "metrics";
}

struct Golden {
  std::vector<double> scores;
  std::vector<int> labels;
  std::map<std::string, std::vector<double>> expect;   // "vt_far 0.01" -> values; "mindcf 0.05" -> values
  RocCurve roc;
};

double num(const std::string& s) {
  if (s == "inf") return kInf;
  if (s == "-inf") return -kInf;
  return std::stod(s);
}

Golden load_golden(const std::filesystem::path& path) {
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "cannot open ", path.string());
  Golden g;
  for (std::string line; std::getline(f, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string kind, a, b, c;
    s >> kind;
    if (kind == "trial") {
      s >> a >> b;
      g.scores.push_back(num(a));
      g.labels.push_back(std::stoi(b));
    } else if (kind == "roc") {
      s >> a >> b >> c;
      g.roc.fpr.push_back(num(a));
      g.roc.tpr.push_back(num(b));
      g.roc.thresholds.push_back(num(c));
    } else if (kind == "expect") {
      std::string name;
      s >> name;
      if (name == "vt_far" || name == "mindcf") {
        s >> a;
        name += " " + a;
      }
      std::vector<double> v;
      for (std::string t; s >> t;) v.push_back(num(t));
      g.expect[name] = v;
    }
  }
  return g;
}

// Identical doubles, or both infinite with the same sign.
void check_same(double got, double want, const std::string& what) {
  INFO(what, ": got ", got, ", want ", want);
  CHECK((got == want || (std::isinf(got) && std::isinf(want) && (got > 0) == (want > 0))));
}

}  // namespace

TEST_CASE("roc_curve reproduces sklearn on the hand-worked tie set, with and without drop_intermediate") {
  RocCurve roc = roc_curve(kTiesScores, kTiesLabels);
  const std::vector<double> fpr = {0, 0, .2, .2, .4, .6, .6, 1}, tpr = {0, .2, .4, .6, .8, .8, 1, 1};
  const std::vector<double> thr = {kInf, .9, .8, .7, .6, .5, .4, .2};
  REQUIRE(roc.fpr.size() == 8);
  for (size_t i = 0; i < 8; ++i) {
    CHECK(roc.fpr[i] == doctest::Approx(fpr[i]).epsilon(1e-15));
    CHECK(roc.tpr[i] == doctest::Approx(tpr[i]).epsilon(1e-15));
    check_same(roc.thresholds[i], thr[i], "threshold " + std::to_string(i));
  }
  // Without dropping: the start plus one point per distinct score (8 distinct), 0.3 included.
  RocCurve full = roc_curve(kTiesScores, kTiesLabels, false);
  REQUIRE(full.fpr.size() == 9);
  CHECK(full.thresholds[7] == 0.3);
  CHECK(full.fpr[7] == doctest::Approx(0.8));
  CHECK(full.tpr[7] == 1.0);
}

TEST_CASE("VT EER, interpolated EER and minDCF of the hand-worked tie set") {
  VtEer vt = vt_eer(kTiesScores, kTiesLabels);
  CHECK(vt.eer == doctest::Approx(40.0).epsilon(1e-14));
  CHECK(vt.at_eer.threshold == 0.7);
  CHECK(vt.at_eer.fpr == doctest::Approx(0.2));
  CHECK(vt.at_eer.fnr == doctest::Approx(0.4));
  // FAR 1 % and 0.1 %: the closest fpr on this coarse ROC is 0, first reached at +inf (accept nothing).
  REQUIRE(vt.at_far.size() == 2);
  CHECK(std::isinf(vt.at_far[0].threshold));
  CHECK(vt.at_far[0].fpr == 0.0);
  CHECK(vt.at_far[0].fnr == 1.0);
  // VT's literal call asks for [1, 0.1]: fpr 1 first reached at 0.2; fpr closest to 0.1 is 0 (|.1| < |.1 - .2|).
  VtEer lit = vt_eer(kTiesScores, kTiesLabels, {1, 0.1});
  CHECK(lit.at_far[0].threshold == 0.2);
  CHECK(std::isinf(lit.at_far[1].threshold));

  InterpolatedEer ie = interpolated_eer(kTiesScores, kTiesLabels);
  CHECK(ie.eer == doctest::Approx(20.0).epsilon(1e-12));
  CHECK(ie.threshold == 0.6);

  MinDcf d05 = min_dcf(kTiesScores, kTiesLabels, 0.05);
  CHECK(d05.min_dcf == doctest::Approx(0.8).epsilon(1e-12));
  CHECK(d05.threshold == 0.8);
  MinDcf d01 = min_dcf(kTiesScores, kTiesLabels, 0.01);
  CHECK(d01.min_dcf == doctest::Approx(0.8).epsilon(1e-12));
  CHECK(d01.threshold == 0.8);
  MinDcf d50 = min_dcf(kTiesScores, kTiesLabels, 0.5);
  CHECK(d50.min_dcf == doctest::Approx(0.4).epsilon(1e-12));
  CHECK(d50.threshold == 0.6);
  // c_miss 10, p .01: C_det = .1 fnr + .99 fpr, min .08 at score 0.8; C_def = min(.1, .99) -> 0.8.
  MinDcf dc = min_dcf(kTiesScores, kTiesLabels, 0.01, 10, 1);
  CHECK(dc.min_dcf == doctest::Approx(0.8).epsilon(1e-12));
  CHECK(dc.c_miss == 10);

  MetricsReport r = compute_metrics(kTiesScores, kTiesLabels);
  CHECK(r.n_target == 5);
  CHECK(r.n_nontarget == 5);
  CHECK(r.vt.eer == vt.eer);
  CHECK(r.interpolated.eer == ie.eer);
  CHECK(r.dcf_p05.min_dcf == d05.min_dcf);
  CHECK(r.dcf_p01.p_target == 0.01);
}

TEST_CASE("all scores equal: VT reads 100 %, the interpolated EER depends on the order of the ties") {
  // 2 targets, 4 non-targets, all 0.5. ROC: (0, 0, inf), (1, 1, 0.5); fnr 1, 0; |fnr - fpr| = 1, 1 -> the first
  // point -> max(0, 1) = 100 %.
  // Interpolated, input order t n t n n n: fnr .5 .5 1 1 1 1, fpr 1 .75 .75 .5 .25 0; x1 = 2, x2 = 1;
  // a = (1 - .75) / (.75 - .75 - (.5 - 1)) = .5; EER = 1 + .5 (.5 - 1) = .75.
  // minDCF: the Kaldi points end at (fnr 1, fpr 0): C_det = p_target = C_def -> 1.0 for both priors.
  const std::vector<double> s(6, 0.5);
  const std::vector<int> l = {1, 0, 1, 0, 0, 0};
  VtEer vt = vt_eer(s, l);
  CHECK(vt.eer == 100.0);
  CHECK(std::isinf(vt.at_eer.threshold));
  CHECK(interpolated_eer(s, l).eer == doctest::Approx(75.0));
  CHECK(min_dcf(s, l, 0.05).min_dcf == doctest::Approx(1.0));
  CHECK(min_dcf(s, l, 0.01).min_dcf == doctest::Approx(1.0));
}

TEST_CASE("perfectly separated, perfectly inverted, and a single target") {
  SUBCASE("separated: targets 0.9 0.8 0.7 above non-targets 0.3 0.2 0.1") {
    // ROC reaches (fpr 0, tpr 1) at 0.7 -> EER 0. Interpolated: the ascending curve meets fnr = fpr = 0 at 0.3.
    // minDCF: the point after the three non-targets has fnr 0, fpr 0 -> 0.
    const std::vector<double> s = {0.9, 0.8, 0.7, 0.3, 0.2, 0.1};
    const std::vector<int> l = {1, 1, 1, 0, 0, 0};
    VtEer vt = vt_eer(s, l);
    CHECK(vt.eer == 0.0);
    CHECK(vt.at_eer.threshold == 0.7);
    InterpolatedEer ie = interpolated_eer(s, l);
    CHECK(ie.eer == 0.0);
    CHECK(ie.threshold == 0.3);
    MinDcf d = min_dcf(s, l, 0.05);
    CHECK(d.min_dcf == 0.0);
    CHECK(d.threshold == 0.3);
  }
  SUBCASE("inverted: the same scores, labels swapped") {
    // ROC after drop_intermediate: (0,0,inf) (1/3,0,.9) (1,0,.7) (1,1,.1); |fnr - fpr| = 1, 2/3, 0, 1 -> the
    // vertex at 0.7 where fpr = fnr = 1 -> 100 %. Interpolated: fnr 1/3 2/3 1 1 1 1, fpr 1 1 1 2/3 1/3 0:
    // x1 = 2 with fnr = fpr = 1 -> 100 %. minDCF: best is reject-all (fnr 1, fpr 0): C_def / C_def = 1.
    const std::vector<double> s = {0.9, 0.8, 0.7, 0.3, 0.2, 0.1};
    const std::vector<int> l = {0, 0, 0, 1, 1, 1};
    VtEer vt = vt_eer(s, l);
    CHECK(vt.eer == 100.0);
    CHECK(vt.at_eer.threshold == 0.7);
    CHECK(interpolated_eer(s, l).eer == 100.0);
    MinDcf d = min_dcf(s, l, 0.01);
    CHECK(d.min_dcf == doctest::Approx(1.0));
    CHECK(d.threshold == 0.9);
  }
  SUBCASE("one target (0.4) among non-targets 0.9 0.8 0.3 0.2") {
    // ROC: (0,0,inf) (.25,0,.9) (.5,0,.8) (.5,1,.4) (1,1,.2); fnr 1 1 1 0 0; |fnr - fpr| = 1 .75 .5 .5 1:
    // the first of the two minima is at 0.8 (fpr .5, fnr 1) -> VT reads 100 %, not the 50 % at 0.4.
    // Interpolated: fnr 0 0 1 1 1, fpr .75 .5 .5 .25 0: x1 = 2, x2 = 1, a = .5 / 1 -> 1 + .5 (0 - 1) = 50 %.
    const std::vector<double> s = {0.4, 0.9, 0.8, 0.3, 0.2};
    const std::vector<int> l = {1, 0, 0, 0, 0};
    VtEer vt = vt_eer(s, l);
    CHECK(vt.eer == 100.0);
    CHECK(vt.at_eer.threshold == 0.8);
    InterpolatedEer ie = interpolated_eer(s, l);
    CHECK(ie.eer == doctest::Approx(50.0));
    CHECK(ie.threshold == 0.4);
    CHECK(min_dcf(s, l, 0.05).min_dcf == doctest::Approx(1.0));
  }
  SUBCASE("where wespeaker's compute_eer raises IndexError, the curve starts at (fnr 0, fpr 1)") {
    // Single target scoring lowest: fnr 1 1 1, fpr 1 .5 0: x1 = 0, no x2; from (0, 1): a = 0 -> 100 %.
    CHECK(interpolated_eer({0.1, 0.5, 0.6}, {1, 0, 0}).eer == 100.0);
    // Single non-target scoring lowest: fnr 0 .5 1, fpr 0 0 0: x1 = 0 with fnr = fpr = 0 -> 0 %.
    CHECK(interpolated_eer({0.1, 0.5, 0.6}, {0, 1, 1}).eer == 0.0);
  }
}

TEST_CASE("golden trial sets: sklearn's ROC and VT EER, the NIST EER and Kaldi's minDCF") {
  const std::filesystem::path dir = golden_dir();
  REQUIRE_MESSAGE(std::filesystem::is_directory(dir), "golden data not found at ", dir.string());
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".txt") continue;
    ++files;
    const std::string name = entry.path().stem().string();
    SUBCASE(name.c_str()) {
      Golden g = load_golden(entry.path());
      REQUIRE(!g.scores.empty());
      if (!g.roc.fpr.empty()) {
        RocCurve roc = roc_curve(g.scores, g.labels);
        REQUIRE(roc.fpr.size() == g.roc.fpr.size());
        for (size_t i = 0; i < roc.fpr.size(); ++i) {
          check_same(roc.fpr[i], g.roc.fpr[i], name + " roc fpr " + std::to_string(i));
          check_same(roc.tpr[i], g.roc.tpr[i], name + " roc tpr " + std::to_string(i));
          check_same(roc.thresholds[i], g.roc.thresholds[i], name + " roc threshold " + std::to_string(i));
        }
      }
      // Same arithmetic in the same order as the Python: the numbers agree to the bit.
      VtEer vt = vt_eer(g.scores, g.labels, {0.01, 0.001, 1, 0.1});
      check_same(vt.eer, g.expect.at("vt_eer")[0], name + " vt_eer");
      check_same(vt.at_eer.threshold, g.expect.at("vt_at_eer")[0], name + " vt_at_eer threshold");
      const char* fars[] = {"vt_far 0.01", "vt_far 0.001", "vt_far 1.0", "vt_far 0.1"};
      for (size_t k = 0; k < 4; ++k) {
        const auto& e = g.expect.at(fars[k]);
        check_same(vt.at_far[k].threshold, e[0], name + " " + fars[k] + " threshold");
        check_same(vt.at_far[k].fpr, e[1], name + " " + fars[k] + " fpr");
        check_same(vt.at_far[k].fnr, e[2], name + " " + fars[k] + " fnr");
      }
      InterpolatedEer ie = interpolated_eer(g.scores, g.labels);
      check_same(ie.eer, g.expect.at("interp_eer")[0], name + " interp_eer");
      check_same(ie.threshold, g.expect.at("interp_eer")[1], name + " interp_eer threshold");
      for (const char* p : {"0.05", "0.01"}) {
        MinDcf d = min_dcf(g.scores, g.labels, std::stod(p));
        const auto& e = g.expect.at(std::string("mindcf ") + p);
        check_same(d.min_dcf, e[0], name + " mindcf " + p);
        check_same(d.threshold, e[1], name + " mindcf threshold " + p);
      }
    }
  }
  CHECK(files >= 8);
}

TEST_CASE("degenerate trial lists raise errors that say what is wrong") {
  using doctest::Contains;
  CHECK_THROWS_WITH_AS(vt_eer({}, {}), Contains("no trials"), spk::Error);
  CHECK_THROWS_WITH_AS(vt_eer({0.1, 0.2}, {0, 0}), Contains("no target trials"), spk::Error);
  CHECK_THROWS_WITH_AS(interpolated_eer({0.1, 0.2}, {1, 1}), Contains("no non-target trials"), spk::Error);
  CHECK_THROWS_WITH_AS(min_dcf({0.1, std::nan(""), 0.3}, {1, 0, 0}, 0.05), Contains("trial 1 has score nan"),
                       spk::Error);
  CHECK_THROWS_WITH_AS(compute_metrics({0.1, kInf}, {1, 0}), Contains("NaN or infinite"), spk::Error);
  CHECK_THROWS_WITH_AS(det_curve({0.1, 0.2}, {1, 2}), Contains("trial 1 has label 2"), spk::Error);
  CHECK_THROWS_WITH_AS(roc_curve({0.1, 0.2}, {1}), Contains("2 scores but 1 labels"), spk::Error);
  CHECK_THROWS_WITH_AS(min_dcf(kTiesScores, kTiesLabels, 1.0), Contains("p_target 1 is not in (0, 1)"), spk::Error);
  CHECK_THROWS_WITH_AS(min_dcf(kTiesScores, kTiesLabels, 0.05, 0, 1), Contains("costs must be positive"), spk::Error);
  CHECK_THROWS_WITH_AS(probit(1.5), Contains("not in [0, 1]"), spk::Error);
}

TEST_CASE("probit matches the standard normal quantile (scipy.stats.norm.ppf) to 1e-14") {
  const std::pair<double, double> known[] = {{0.975, 1.959963984540054}, {0.5, 0.0}, {0.001, -3.090232306167813},
                                             {1e-10, -6.361340902404056}, {0.9, 1.2815515655446004},
                                             {0.2, -0.8416212335729142}, {0.02425, -1.972961051311885},
                                             {0.3, -0.5244005127080409}};
  for (auto [p, x] : known) CHECK(probit(p) == doctest::Approx(x).epsilon(1e-14).scale(1));
  CHECK(probit(0.0) == -kInf);
  CHECK(probit(1.0) == kInf);
}

TEST_CASE("det_curve of the hand-worked tie set: one point per distinct score, ties moving both rates") {
  // Accept if score >= t. Targets 5, non-targets 5:
  //   t     inf  .9  .8  .7  .6  .5  .4  .3  .2
  //   miss   1   .8  .6  .4  .2  .2   0   0   0
  //   fa     0    0  .2  .2  .4  .6  .6  .8   1
  std::vector<DetPoint> d = det_curve(kTiesScores, kTiesLabels);
  const std::vector<double> miss = {1, .8, .6, .4, .2, .2, 0, 0, 0}, fa = {0, 0, .2, .2, .4, .6, .6, .8, 1};
  REQUIRE(d.size() == 9);
  CHECK(std::isinf(d[0].threshold));
  for (size_t i = 0; i < d.size(); ++i) {
    CHECK(d[i].p_miss == doctest::Approx(miss[i]));
    CHECK(d[i].p_fa == doctest::Approx(fa[i]));
    if (i > 0 && i < 6) CHECK(d[i].y == doctest::Approx(probit(miss[i])));
  }
  CHECK(d[2].x == doctest::Approx(-0.8416212335729142));
  CHECK(d[0].x == -kInf);
  CHECK(d[8].y == -kInf);
}
