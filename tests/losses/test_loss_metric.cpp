// LossMetric (losses/loss.h) and the losses' host-sync fixes of issue 17, on the CPU: the accuracy stays a tensor
// until asked for, and the label checks and repeat_interleave read nothing back to the host (engine/
// sync_counter.h), which on a GPU would be a device-to-host sync per step.
#include "engine/ops.h"
#include "engine/sync_counter.h"
#include "losses/common.h"
#include "losses/metrics.h"
#include "support/check.h"

using namespace spk;

namespace {
Tensor i64(const std::vector<int64_t>& v) { return Tensor::from_vector(v, {int64_t(v.size())}); }
}  // namespace

TEST_CASE("top1_accuracy and prediction_accuracy keep the metric as a tensor: no read until it is asked for") {
  const Tensor logits = Tensor::from_vector(std::vector<double>{0.1, 0.9, 0.5, 0.2, 0.3, 0.3}, {3, 2}, DType::f32);
  const Tensor labels = i64({1, 0, 1});
  const uint64_t before = sync_counter::host_reads();
  const LossMetric m = top1_accuracy(logits, labels);    // argmax: 1, 0, 0 (tie: the first)
  const LossMetric mean = mean_of(m, prediction_accuracy(i64({0, 1, 2})));
  const Tensor reps = loss_util::repeat_interleave(labels, 2);
  loss_util::check_class_labels("test", labels, 2);
  CHECK(sync_counter::host_reads() == before);
  CHECK(!m.on_host());
  CHECK(m.value() == 100.0 * 2 / 3);
  CHECK(mean.value() == (100.0 * 2 / 3 + 100.0) / 2);
  CHECK(reps.to_vector<int64_t>() == std::vector<int64_t>{1, 1, 0, 0, 1, 1});
  CHECK(LossMetric(12.5).value() == 12.5);
  CHECK(LossMetric(12.5).as_tensor(Device::cpu()).item() == 12.5);
}

