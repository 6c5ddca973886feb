// Verification metrics: EER and minDCF exactly as the reference toolkits compute them, and the DET curve.
//
// Two EERs, because the reference toolkits disagree (voxceleb_trainer tuneThreshold.py does not interpolate,
// wespeaker wespeaker/utils/score_metrics.py does) and users compare with both:
//   vt_eer            voxceleb_trainer's tuneThresholdfromScore: sklearn.metrics.roc_curve (drop_intermediate=True,
//                     ties grouped into one threshold), fnr = 1 − tpr, idx = first argmin |fnr − fpr|,
//                     EER = max(fpr[idx], fnr[idx]) · 100. Not interpolated: it is the worse of the two error
//                     rates at the ROC vertex where they are closest.
//   interpolated_eer  wespeaker / NIST SRE compute_eer: ascending stable sort, fnr[i] = #tgt ≤ s_i / N_tgt,
//                     fpr[i] = 1 − #non ≤ s_i / N_non, linear interpolation across the last fnr − fpr sign change.
// minDCF is Kaldi's ComputeErrorRates + ComputeMinDcf (NIST SRE16 eq. 2–4), as VT and wespeaker use it,
// normalised by C_def (SpeechBrain's speechbrain/utils/metric_stats.py minDCF is not divided by C_def, so its
// value is not comparable).
//
// Labels are 1 (target, same speaker) or 0 (non-target). Scores are "higher = more likely the same speaker".
// Every function rejects empty input, labels other than 0/1, a NaN or infinite score, and trial sets without
// targets or without non-targets, with an spk::Error that says which. All arithmetic is in double, in the
// reference implementations' order of operations, so the results agree to the last bit with the Python code
// on the same (double) scores.
#pragma once
#include <cstdint>
#include <vector>

namespace spk {

// sklearn.metrics.roc_curve(labels, scores, pos_label=1, drop_intermediate): thresholds descend and start at
// +inf (sklearn >= 1.3; older versions used max score + 1); fpr/tpr are the rates of "accept if score >= thr".
struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;
};
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& labels, bool drop_intermediate = true);

// One row of VT's tunedThreshold: [thresholds[idx], fpr[idx], fnr[idx]] (rates as fractions).
struct OperatingPoint {
  double threshold = 0, fpr = 0, fnr = 0;
};

struct VtEer {
  double eer = 0;                        // percent
  OperatingPoint at_eer;                 // the ROC vertex the EER was read from
  std::vector<OperatingPoint> at_far;    // one per target false-alarm rate, in the order asked
};
// target_fa are fractions: 0.01 is FAR 1 %. Each picks idx = first argmin |target − fpr| on the ROC, as VT.
// (VT itself calls tuneThresholdfromScore(sc, lab, [1, 0.1]), i.e. FAR 100 % and 10 %, and never prints them;
// we ask for the 1 % and 0.1 % its variable name promises.)
VtEer vt_eer(const std::vector<double>& scores, const std::vector<int>& labels,
             const std::vector<double>& target_fa = {0.01, 0.001});

struct InterpolatedEer {
  double eer = 0;         // percent
  double threshold = 0;   // the sorted score at x1 (wespeaker's compute_eer(..., scores) return value)
};
// Where the reference raises IndexError (no index with fnr − fpr < 0: a single target that scores lowest, or a
// single non-target that scores lowest) we interpolate from the curve's start (fnr 0, fpr 1) instead, which
// gives 100 % and 0 % respectively. Tied scores are ordered by input position (numpy's default argsort is not
// stable, so with ties across classes the reference's own result depends on the sort it happened to use).
InterpolatedEer interpolated_eer(const std::vector<double>& scores, const std::vector<int>& labels);

// Kaldi's ComputeErrorRates: scores sorted ascending (stable), thresholds[i] = the i-th score,
// fnr[i] = #targets among the first i+1 / N_tgt, fpr[i] = 1 − #non-targets among the first i+1 / N_non.
// Point i is "reject scores <= thresholds[i]". Tied scores give one point each (Kaldi's behaviour).
struct ErrorRates {
  std::vector<double> fnr, fpr, thresholds;
};
ErrorRates compute_error_rates(const std::vector<double>& scores, const std::vector<int>& labels);

struct MinDcf {
  double min_dcf = 0;     // min_i C_det(i) / C_def
  double threshold = 0;   // thresholds[i] at the first minimal C_det
  double p_target = 0, c_miss = 1, c_fa = 1;
};
// C_det(i) = c_miss·fnr[i]·p_target + c_fa·fpr[i]·(1 − p_target); C_def = min(c_miss·p_target, c_fa·(1 − p_target)).
MinDcf compute_min_dcf(const ErrorRates& rates, double p_target, double c_miss = 1, double c_fa = 1);
MinDcf min_dcf(const std::vector<double>& scores, const std::vector<int>& labels, double p_target, double c_miss = 1,
               double c_fa = 1);

// A bootstrap confidence interval of the VT EER (the headline EER, vt_eer's convention), as the seed project
// reports "EER 3.94 % [3.74, 4.14]" (Coria et al., SLSP 2020). Method (docs/evaluation.md):
//   - the resampling unit is the trial; resampling is stratified by class: each replicate draws N_tgt trials
//     with replacement from the targets and N_non from the non-targets, so every replicate keeps the list's
//     class counts (fixed by the list's design, not random) and always has both classes;
//   - replicate b draws from Rng(seed).fork(b): first N_tgt draws randint(0, N_tgt) indexing the targets in
//     input order, then N_non draws randint(0, N_non) indexing the non-targets in input order; so the result
//     depends only on (scores, labels, resamples, seed), never on threads or on the other replicates;
//   - each replicate's EER is vt_eer of the resampled list, computed without materialising it: scores are
//     sorted once, a replicate is a count per distinct score, and one weighted sweep replays roc_curve's
//     tie grouping and drop_intermediate exactly (equal to the last bit to vt_eer on the materialised list);
//   - the interval is the percentile interval (Efron & Tibshirani 1993, ch. 13): the (1 − level)/2 and
//     (1 + level)/2 quantiles of the B replicates, linearly interpolated between order statistics (numpy's
//     default "linear" quantile).
struct EerInterval {
  double eer = 0;                // the point VT EER of the full list, percent
  double low = 0, high = 0;      // percent
  double level = 0.95;
  int64_t resamples = 0;
  uint64_t seed = 0;
};
// The `resamples` bootstrap replicates of the VT EER (percent), in replicate order. resamples >= 1.
std::vector<double> vt_eer_bootstrap(const std::vector<double>& scores, const std::vector<int>& labels,
                                     int64_t resamples, uint64_t seed);
// level in (0, 1), resamples >= 2.
EerInterval vt_eer_confidence_interval(const std::vector<double>& scores, const std::vector<int>& labels,
                                       double level = 0.95, int64_t resamples = 1000, uint64_t seed = 0);
// numpy.quantile(values, q) with the default "linear" method; values non-empty, q in [0, 1].
double linear_quantile(std::vector<double> values, double q);

// Everything spk_eval reports for one trial list.
struct MetricsReport {
  int64_t n_target = 0, n_nontarget = 0;
  VtEer vt;                      // the headline EER (comparable with voxceleb_trainer's VEER)
  InterpolatedEer interpolated;  // comparable with wespeaker / 3D-Speaker
  MinDcf dcf_p05, dcf_p01;       // p_target 0.05 (VT, VoxSRC) and 0.01 (wespeaker), c_miss = c_fa = 1
};
MetricsReport compute_metrics(const std::vector<double>& scores, const std::vector<int>& labels);

// DET curve: one point per distinct score t (accept if score >= t, ties grouped), from t = +inf (miss 1, fa 0)
// down to the lowest score (miss 0, fa 1). x, y are the normal deviates probit(p_fa), probit(p_miss)
// (±inf at rates 0 and 1).
struct DetPoint {
  double threshold = 0, p_miss = 0, p_fa = 0, x = 0, y = 0;
};
std::vector<DetPoint> det_curve(const std::vector<double>& scores, const std::vector<int>& labels);

// Inverse of the standard normal CDF; -inf at 0, +inf at 1; an error outside [0, 1] or for NaN.
double probit(double p);

// The input checks every metric runs: non-empty, equal lengths, labels 0/1, finite scores, both classes present.
// Returns {n_target, n_nontarget}. `what` names the caller in the message.
struct TrialCounts {
  int64_t n_target = 0, n_nontarget = 0;
};
TrialCounts check_trials(const std::vector<double>& scores, const std::vector<int>& labels, const char* what);

}  // namespace spk
