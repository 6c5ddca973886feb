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
  return prediction_accuracy(argmax(logits.detach(), 1), labels);
}

double prediction_accuracy(const Tensor& pred, const Tensor& labels) {
  const std::vector<int64_t> p = pred.to_vector<int64_t>();
  std::vector<int64_t> y;
  if (labels.defined()) {
    y = labels.to_vector<int64_t>();
    SPK_CHECK(y.size() == p.size(), "prediction_accuracy: ", p.size(), " predictions but ", y.size(), " labels");
  } else {
    for (size_t i = 0; i < p.size(); ++i) y.push_back(int64_t(i));
  }
  int64_t hit = 0;
  for (size_t i = 0; i < y.size(); ++i) hit += p[i] == y[i];
  return y.empty() ? 0.0 : 100.0 * double(hit) / double(y.size());
}

}  // namespace spk
