// EER (voxceleb_trainer's and the interpolated NIST one), minDCF and the DET curve; see metrics.h for the
// definitions. The loops mirror the reference Python step by step (same sort stability, same order of the
// double operations), because the EER index is an argmin over values that tie often on small trial lists.
#include "losses/verification.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>

#include "engine/check.h"
#include "engine/rng.h"

namespace spk {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Indices that sort scores ascending, ties kept in input order (Python's sorted, numpy kind='stable').
std::vector<size_t> ascending_order(const std::vector<double>& scores) {
  std::vector<size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), size_t(0));
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  return idx;
}

// numpy.nanargmin over |target - v[i]|: the first index of the minimum (our rates are never NaN).
size_t first_argmin_abs_diff(const std::vector<double>& v, double target) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (std::fabs(target - v[i]) < std::fabs(target - v[best])) best = i;
  return best;
}

}  // namespace

TrialCounts check_trials(const std::vector<double>& scores, const std::vector<int>& labels, const char* what) {
  SPK_CHECK(scores.size() == labels.size(), what, ": ", scores.size(), " scores but ", labels.size(), " labels");
  SPK_CHECK(!scores.empty(), what, ": no trials");
  TrialCounts n;
  for (size_t i = 0; i < scores.size(); ++i) {
    SPK_CHECK(labels[i] == 0 || labels[i] == 1, what, ": trial ", i, " has label ", labels[i],
              " (expected 1 = target or 0 = non-target)");
    SPK_CHECK(std::isfinite(scores[i]), what, ": trial ", i, " has score ", scores[i], " (NaN or infinite)");
    (labels[i] ? n.n_target : n.n_nontarget)++;
  }
  SPK_CHECK(n.n_target > 0, what, ": no target trials among ", scores.size(), " (EER and minDCF need both classes)");
  SPK_CHECK(n.n_nontarget > 0, what, ": no non-target trials among ", scores.size(),
            " (EER and minDCF need both classes)");
  return n;
}

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& labels, bool drop_intermediate) {
  check_trials(scores, labels, "roc_curve");
  const size_t n = scores.size();
  // Descending by score; the order inside a run of ties does not matter, the run becomes one threshold.
  std::vector<size_t> order = ascending_order(scores);
  std::reverse(order.begin(), order.end());
  // threshold_idxs: the last position of each run of equal scores (np.diff != 0, plus the final index).
  // tps = cumulative targets up to it; fps = 1 + idx - tps.
  std::vector<double> tps, fps, thr;
  double cum_tp = 0;
  for (size_t i = 0; i < n; ++i) {
    cum_tp += labels[order[i]];
    if (i + 1 == n || scores[order[i + 1]] != scores[order[i]]) {
      tps.push_back(cum_tp);
      fps.push_back(1.0 + double(i) - cum_tp);
      thr.push_back(scores[order[i]]);
    }
  }
  if (drop_intermediate && fps.size() > 2) {
    // Keep the ends and every point where either count's second difference is non-zero (a corner).
    std::vector<double> kt{tps[0]}, kf{fps[0]}, kh{thr[0]};
    for (size_t i = 1; i + 1 < fps.size(); ++i) {
      const bool corner = (fps[i + 1] - fps[i]) - (fps[i] - fps[i - 1]) != 0 ||
                          (tps[i + 1] - tps[i]) - (tps[i] - tps[i - 1]) != 0;
      if (corner) {
        kt.push_back(tps[i]);
        kf.push_back(fps[i]);
        kh.push_back(thr[i]);
      }
    }
    kt.push_back(tps.back());
    kf.push_back(fps.back());
    kh.push_back(thr.back());
    tps.swap(kt);
    fps.swap(kf);
    thr.swap(kh);
  }
  RocCurve roc;
  roc.thresholds.push_back(kInf);
  roc.fpr.push_back(0.0);
  roc.tpr.push_back(0.0);
  const double fp_total = fps.back(), tp_total = tps.back();
  for (size_t i = 0; i < fps.size(); ++i) {
    roc.fpr.push_back(fps[i] / fp_total);
    roc.tpr.push_back(tps[i] / tp_total);
    roc.thresholds.push_back(thr[i]);
  }
  return roc;
}

VtEer vt_eer(const std::vector<double>& scores, const std::vector<int>& labels, const std::vector<double>& target_fa) {
  RocCurve roc = roc_curve(scores, labels, /*drop_intermediate=*/true);
  std::vector<double> fnr(roc.tpr.size()), gap(roc.tpr.size());
  for (size_t i = 0; i < fnr.size(); ++i) fnr[i] = 1.0 - roc.tpr[i];
  auto point = [&](size_t i) { return OperatingPoint{roc.thresholds[i], roc.fpr[i], fnr[i]}; };
  VtEer out;
  for (double tfa : target_fa) {
    SPK_CHECK(std::isfinite(tfa), "vt_eer: target false-alarm rate ", tfa, " is not finite");
    out.at_far.push_back(point(first_argmin_abs_diff(roc.fpr, tfa)));
  }
  for (size_t i = 0; i < fnr.size(); ++i) gap[i] = fnr[i] - roc.fpr[i];
  const size_t idx = first_argmin_abs_diff(gap, 0.0);
  out.at_eer = point(idx);
  out.eer = std::max(roc.fpr[idx], fnr[idx]) * 100;
  return out;
}

InterpolatedEer interpolated_eer(const std::vector<double>& scores, const std::vector<int>& labels) {
  const TrialCounts n = check_trials(scores, labels, "interpolated_eer");
  const std::vector<size_t> order = ascending_order(scores);
  const double n_tgt = double(n.n_target), n_non = double(n.n_nontarget);
  std::vector<double> fnr(order.size()), fpr(order.size());
  double cum_tgt = 0, cum_non = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    cum_tgt += labels[order[i]];
    cum_non += 1 - labels[order[i]];
    fnr[i] = cum_tgt / n_tgt;
    fpr[i] = 1 - cum_non / n_non;
  }
  // x1: first index with fnr - fpr >= 0 (the last point, fnr 1 / fpr 0, always qualifies).
  // x2: last index with fnr - fpr < 0; -1 stands for the curve's start (fnr 0, fpr 1).
  int64_t x1 = -1, x2 = -1;
  for (size_t i = 0; i < order.size(); ++i) {
    const double d = fnr[i] - fpr[i];
    if (d >= 0 && x1 < 0) x1 = int64_t(i);
    if (d < 0) x2 = int64_t(i);
  }
  const double fnr1 = fnr[size_t(x1)], fpr1 = fpr[size_t(x1)];
  const double fnr2 = x2 >= 0 ? fnr[size_t(x2)] : 0.0, fpr2 = x2 >= 0 ? fpr[size_t(x2)] : 1.0;
  const double a = (fnr1 - fpr1) / (fpr2 - fpr1 - (fnr2 - fnr1));
  return {(fnr1 + a * (fnr2 - fnr1)) * 100, scores[order[size_t(x1)]]};
}

ErrorRates compute_error_rates(const std::vector<double>& scores, const std::vector<int>& labels) {
  const TrialCounts n = check_trials(scores, labels, "compute_error_rates");
  const std::vector<size_t> order = ascending_order(scores);
  ErrorRates r;
  r.fnr.resize(order.size());
  r.fpr.resize(order.size());
  r.thresholds.resize(order.size());
  // Counts are integers (Python ints in the reference); the divisions happen once, at the end, as there.
  int64_t fn = 0, tn = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    fn += labels[order[i]];
    tn += 1 - labels[order[i]];
    r.fnr[i] = double(fn) / double(n.n_target);
    r.fpr[i] = 1 - double(tn) / double(n.n_nontarget);
    r.thresholds[i] = scores[order[i]];
  }
  return r;
}

MinDcf compute_min_dcf(const ErrorRates& rates, double p_target, double c_miss, double c_fa) {
  SPK_CHECK(!rates.fnr.empty() && rates.fnr.size() == rates.fpr.size() && rates.fnr.size() == rates.thresholds.size(),
            "compute_min_dcf: error rates are empty or of unequal lengths (", rates.fnr.size(), ", ",
            rates.fpr.size(), ", ", rates.thresholds.size(), ")");
  SPK_CHECK(p_target > 0 && p_target < 1, "compute_min_dcf: p_target ", p_target, " is not in (0, 1)");
  SPK_CHECK(c_miss > 0 && c_fa > 0, "compute_min_dcf: costs must be positive, got c_miss ", c_miss, ", c_fa ", c_fa);
  double min_c_det = kInf, min_thr = rates.thresholds[0];
  for (size_t i = 0; i < rates.fnr.size(); ++i) {
    const double c_det = c_miss * rates.fnr[i] * p_target + c_fa * rates.fpr[i] * (1 - p_target);
    if (c_det < min_c_det) {
      min_c_det = c_det;
      min_thr = rates.thresholds[i];
    }
  }
  const double c_def = std::min(c_miss * p_target, c_fa * (1 - p_target));
  return {min_c_det / c_def, min_thr, p_target, c_miss, c_fa};
}

MinDcf min_dcf(const std::vector<double>& scores, const std::vector<int>& labels, double p_target, double c_miss,
               double c_fa) {
  return compute_min_dcf(compute_error_rates(scores, labels), p_target, c_miss, c_fa);
}

MetricsReport compute_metrics(const std::vector<double>& scores, const std::vector<int>& labels) {
  const TrialCounts n = check_trials(scores, labels, "compute_metrics");
  MetricsReport r;
  r.n_target = n.n_target;
  r.n_nontarget = n.n_nontarget;
  r.vt = vt_eer(scores, labels);
  r.interpolated = interpolated_eer(scores, labels);
  const ErrorRates rates = compute_error_rates(scores, labels);
  r.dcf_p05 = compute_min_dcf(rates, 0.05, 1, 1);
  r.dcf_p01 = compute_min_dcf(rates, 0.01, 1, 1);
  return r;
}

namespace {

// vt_eer's EER over a ROC given as the cumulative (targets, non-targets) accepted at each distinct score, in
// descending score order, fed one point at a time: roc_curve's drop_intermediate (a point between the first
// and the last is kept only where either count's second difference is non-zero) decided on a three-point
// window, then the first argmin of |fnr − fpr| over the kept points, with roc_curve's and vt_eer's double
// expressions, so the result equals vt_eer's bit for bit.
class VtEerSweep {
 public:
  VtEerSweep(int64_t n_target, int64_t n_nontarget) : tp_total_(double(n_target)), fp_total_(double(n_nontarget)) {
    consider(0, 0);   // roc_curve's first point, threshold +inf
  }
  void add(int64_t tps, int64_t fps) {
    if (count_ == 0) consider(tps, fps);
    else if (count_ >= 2 && ((fps - fp1_) - (fp1_ - fp2_) != 0 || (tps - tp1_) - (tp1_ - tp2_) != 0))
      consider(tp1_, fp1_);
    tp2_ = tp1_, fp2_ = fp1_, tp1_ = tps, fp1_ = fps;
    ++count_;
  }
  // fnr − fpr never increases along the sweep (both rates are monotone and so is their rounded difference),
  // so once a kept point has fnr < fpr no later point is strictly closer: the sweep may stop there.
  bool crossed() const { return crossed_; }
  double finish() {
    if (count_ >= 2) consider(tp1_, fp1_);
    return best_eer_;
  }

 private:
  void consider(int64_t tps, int64_t fps) {
    const double fpr = double(fps) / fp_total_, tpr = double(tps) / tp_total_;
    const double fnr = 1.0 - tpr, gap = std::fabs(0.0 - (fnr - fpr));
    crossed_ = crossed_ || fnr - fpr < 0;
    if (gap < best_gap_) {
      best_gap_ = gap;
      best_eer_ = std::max(fpr, fnr) * 100;
    }
  }
  double tp_total_, fp_total_;
  int64_t count_ = 0, tp1_ = 0, fp1_ = 0, tp2_ = 0, fp2_ = 0;
  double best_gap_ = kInf, best_eer_ = 0;
  bool crossed_ = false;
};

}  // namespace

std::vector<double> vt_eer_bootstrap(const std::vector<double>& scores, const std::vector<int>& labels,
                                     int64_t resamples, uint64_t seed) {
  const TrialCounts n = check_trials(scores, labels, "vt_eer_bootstrap");
  SPK_CHECK(resamples >= 1, "vt_eer_bootstrap: resamples must be >= 1, got ", resamples);
  // Sort once: group g is the g-th distinct score, descending; each class's trials (input order) -> group.
  std::vector<size_t> order = ascending_order(scores);
  std::reverse(order.begin(), order.end());
  std::vector<uint32_t> group_of(scores.size());
  size_t groups = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    if (i > 0 && scores[order[i]] != scores[order[i - 1]]) ++groups;
    group_of[order[i]] = uint32_t(groups);
  }
  ++groups;
  std::vector<uint32_t> target_group, nontarget_group;
  target_group.reserve(size_t(n.n_target));
  nontarget_group.reserve(size_t(n.n_nontarget));
  for (size_t i = 0; i < scores.size(); ++i) (labels[i] ? target_group : nontarget_group).push_back(group_of[i]);
  // A replicate is how often each group's targets and non-targets were drawn; its ROC sweeps the groups
  // drawn at least once (the resampled list's distinct scores).
  // (Counts side by side in 32 bits: half the memory the random increments touch.)
  SPK_CHECK(scores.size() < (size_t(1) << 31), "vt_eer_bootstrap: ", scores.size(), " trials is too many");
  struct Drawn {
    int32_t target = 0, nontarget = 0;
  };
  std::vector<Drawn> drawn(groups);
  std::vector<double> eers(static_cast<size_t>(resamples));
  const Rng base(seed);
  for (int64_t b = 0; b < resamples; ++b) {
    Rng rng = base.fork(uint64_t(b));
    std::fill(drawn.begin(), drawn.end(), Drawn{});
    for (int64_t k = 0; k < n.n_target; ++k) ++drawn[target_group[size_t(rng.randint(0, n.n_target))]].target;
    for (int64_t k = 0; k < n.n_nontarget; ++k)
      ++drawn[nontarget_group[size_t(rng.randint(0, n.n_nontarget))]].nontarget;
    VtEerSweep sweep(n.n_target, n.n_nontarget);
    int64_t tps = 0, fps = 0;
    for (size_t g = 0; g < groups; ++g) {
      if (drawn[g].target + drawn[g].nontarget == 0) continue;
      tps += drawn[g].target;
      fps += drawn[g].nontarget;
      sweep.add(tps, fps);
      if (sweep.crossed()) break;
    }
    eers[size_t(b)] = sweep.finish();
  }
  return eers;
}

double linear_quantile(std::vector<double> values, double q) {
  SPK_CHECK(!values.empty(), "linear_quantile: no values");
  SPK_CHECK(q >= 0 && q <= 1, "linear_quantile: q ", q, " is not in [0, 1]");
  std::sort(values.begin(), values.end());
  const double h = q * double(values.size() - 1);
  const size_t lo = size_t(std::floor(h));
  if (lo + 1 >= values.size()) return values.back();
  return values[lo] + (h - double(lo)) * (values[lo + 1] - values[lo]);
}

EerInterval vt_eer_confidence_interval(const std::vector<double>& scores, const std::vector<int>& labels,
                                       double level, int64_t resamples, uint64_t seed) {
  SPK_CHECK(level > 0 && level < 1, "vt_eer_confidence_interval: level ", level, " is not in (0, 1)");
  SPK_CHECK(resamples >= 2, "vt_eer_confidence_interval: resamples must be >= 2, got ", resamples);
  EerInterval ci;
  ci.eer = vt_eer(scores, labels, {}).eer;
  const std::vector<double> eers = vt_eer_bootstrap(scores, labels, resamples, seed);
  ci.low = linear_quantile(eers, (1 - level) / 2);
  ci.high = linear_quantile(eers, (1 + level) / 2);
  ci.level = level;
  ci.resamples = resamples;
  ci.seed = seed;
  return ci;
}

std::vector<DetPoint> det_curve(const std::vector<double>& scores, const std::vector<int>& labels) {
  const TrialCounts n = check_trials(scores, labels, "det_curve");
  std::vector<size_t> order = ascending_order(scores);
  std::reverse(order.begin(), order.end());
  const double n_tgt = double(n.n_target), n_non = double(n.n_nontarget);
  std::vector<DetPoint> pts;
  pts.push_back({kInf, 1.0, 0.0, probit(0.0), probit(1.0)});
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    tp += labels[order[i]];
    fp += 1 - labels[order[i]];
    if (i + 1 == order.size() || scores[order[i + 1]] != scores[order[i]]) {
      const double p_miss = double(n.n_target - tp) / n_tgt, p_fa = double(fp) / n_non;
      pts.push_back({scores[order[i]], p_miss, p_fa, probit(p_fa), probit(p_miss)});
    }
  }
  return pts;
}

double probit(double p) {
  SPK_CHECK(p >= 0 && p <= 1, "probit: probability ", p, " is not in [0, 1]");
  if (p == 0) return -kInf;
  if (p == 1) return kInf;
  // Acklam's rational approximation (relative error < 1.2e-9), then one Halley step on the exact CDF
  // (via erfc), which brings it to full double precision.
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double p_low = 0.02425;
  double x;
  if (p < p_low || p > 1 - p_low) {
    const double q = std::sqrt(-2 * std::log(p < p_low ? p : 1 - p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    if (p > 1 - p_low) x = -x;
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * std::numbers::pi) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

}  // namespace spk
