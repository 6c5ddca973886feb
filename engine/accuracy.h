// The training accuracy as an engine op, kept on the device (issue 17): a loss's top-1 accuracy used to be counted
// on the host, a device-to-host read per step. Declared apart from engine/ops.h (included almost everywhere)
// because only the losses' metrics use it; defined in engine/ops/reduce.cpp, kernels in kernels/reduce.
#pragma once
#include "engine/tensor.h"

namespace spk {

// Predicted classes pred (N) i64 against labels (N) i64 (undefined: the positional targets 0..N-1): 100·hits/N
// as a () f64 tensor on pred's device, 0 for N = 0; the host formula in double, so the same bits on either
// device. Not differentiable. One kernel on either device: nothing is read back.
Tensor accuracy_percent(const Tensor& pred, const Tensor& labels = Tensor());

}  // namespace spk
