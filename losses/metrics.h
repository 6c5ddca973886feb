// The training metrics voxceleb_trainer prints next to the loss ("TEER/TAcc").
//
// top1_accuracy: utils.accuracy(output, label, topk=(1,)): % of rows whose largest logit is the label
//   (ties go to the first maximal column, as argmax).
// Both accuracies are computed where the inputs live (argmax and accuracy_percent, engine/ops.h) and returned
// as a LossMetric holding a () f64 tensor there: nothing is read back to the host until someone asks for the
// value (the trainer: once per --log_interval).
// The EER that triplet reports is voxceleb_trainer's (vt_eer in losses/verification.h, shared with spk_eval).
#pragma once
#include <vector>

#include "engine/tensor.h"
#include "losses/loss.h"
#include "losses/verification.h"

namespace spk {

LossMetric top1_accuracy(const Tensor& logits /*(N, C)*/, const Tensor& labels /*(N) i64*/);
// The same from predicted classes (N) i64 (the fused loss ops return their argmax): % of rows where
// pred == labels; with labels undefined, the positional targets 0..N-1 of the prototype losses.
LossMetric prediction_accuracy(const Tensor& pred, const Tensor& labels = Tensor());
// (a + b) / 2 on the device of the metrics' tensors (anglecontrast's mean of its two directions).
LossMetric mean_of(const LossMetric& a, const LossMetric& b);

}  // namespace spk
