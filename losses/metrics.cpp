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

}  // namespace spk
