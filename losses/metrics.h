// The training metrics voxceleb_trainer prints next to the loss ("TEER/TAcc").
//
// top1_accuracy: utils.accuracy(output, label, topk=(1,)): % of rows whose largest logit is the label
//   (ties go to the first maximal column, as argmax).
// vt_eer: tuneThresholdfromScore's EER: sklearn.metrics.roc_curve(labels, scores) with its default
//   drop_intermediate=True, fnr = 1 − tpr, idx = nanargmin |fnr − fpr|, EER = max(fpr[idx], fnr[idx])·100.
//   Not interpolated; dropping the collinear ROC points changes which point is nearest the diagonal, so the
//   thinning is reproduced too. The evaluator may share it (apps/recipe sits above losses/).
#pragma once
#include <vector>

#include "engine/tensor.h"

namespace spk {

double top1_accuracy(const Tensor& logits /*(N, C)*/, const Tensor& labels /*(N) i64*/);
// scores: higher = more likely target; labels: 1 target, 0 non-target. Needs both classes present.
double vt_eer(const std::vector<double>& scores, const std::vector<int>& labels);

}  // namespace spk
