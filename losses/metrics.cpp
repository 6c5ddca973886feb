// Training metrics; see metrics.h.
#include "losses/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace spk {

double top1_accuracy(const Tensor& logits, const Tensor& labels) {
  SPK_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.size(0) == logits.size(0),
            "top1_accuracy: expected logits (N, C) and labels (N), got ", logits.str(), " and ", labels.str());
  NoGradGuard ng;
  std::vector<int64_t> pred = argmax(logits.detach(), 1).to_vector<int64_t>(), y = labels.to_vector<int64_t>();
  int64_t hit = 0;
  for (size_t i = 0; i < y.size(); ++i) hit += pred[i] == y[i];
  return y.empty() ? 0.0 : 100.0 * double(hit) / double(y.size());
}

double vt_eer(const std::vector<double>& scores, const std::vector<int>& labels) {
  SPK_CHECK(scores.size() == labels.size() && !scores.empty(), "vt_eer: ", scores.size(), " scores and ", labels.size(),
            " labels");
  const size_t n = scores.size();
  // sklearn _binary_clf_curve: scores in decreasing order; one ROC point per distinct score (the last index of
  // each run of equal scores), with cumulative true and false positives.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<double> tps, fps;
  double tp = 0;
  for (size_t k = 0; k < n; ++k) {
    tp += labels[order[k]] == 1;
    if (k + 1 == n || scores[order[k + 1]] != scores[order[k]]) {
      tps.push_back(tp);
      fps.push_back(double(k + 1) - tp);
    }
  }
  SPK_CHECK(tps.back() > 0 && fps.back() > 0, "vt_eer: needs both target and non-target trials (", tps.back(),
            " targets, ", fps.back(), " non-targets)");
  // drop_intermediate: keep the ends and every point where either curve bends (non-zero second difference).
  std::vector<double> t{0}, f{0};
  for (size_t i = 0; i < tps.size(); ++i) {
    bool keep = tps.size() <= 2 || i == 0 || i + 1 == tps.size() ||
                fps[i - 1] - 2 * fps[i] + fps[i + 1] != 0 || tps[i - 1] - 2 * tps[i] + tps[i + 1] != 0;
    if (keep) { t.push_back(tps[i]); f.push_back(fps[i]); }
  }
  double best = INFINITY, eer = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    double fpr = f[i] / f.back(), fnr = 1.0 - t[i] / t.back(), gap = std::abs(fnr - fpr);
    if (gap < best) { best = gap; eer = std::max(fpr, fnr); }   // first minimum, as nanargmin
  }
  return eer * 100.0;
}

}  // namespace spk
