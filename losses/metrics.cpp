// Training metrics; see metrics.h, and LossMetric in loss.h.
#include "losses/metrics.h"

#include "engine/autograd.h"
#include "engine/accuracy.h"
#include "engine/ops.h"

namespace spk {

LossMetric::LossMetric(Tensor value) {
  SPK_CHECK(value.defined() && value.numel() == 1 && is_floating(value.dtype()),
            "LossMetric: expected a one-element floating tensor, got ", value.defined() ? value.str() : "undefined");
  NoGradGuard ng;
  t_ = reshape(value.detach(), {});
  if (t_.dtype() != DType::f64) t_ = t_.to(DType::f64);
}

double LossMetric::value() const { return t_.defined() ? t_.item() : host_; }

Tensor LossMetric::as_tensor(Device device) const {
  if (!t_.defined()) return Tensor::scalar(host_, DType::f64, device);
  SPK_CHECK(t_.device() == device, "LossMetric: the metric is on ", t_.device().str(), ", not ", device.str());
  return t_;
}

LossMetric top1_accuracy(const Tensor& logits, const Tensor& labels) {
  SPK_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.size(0) == logits.size(0),
            "top1_accuracy: expected logits (N, C) and labels (N), got ", logits.str(), " and ", labels.str());
  NoGradGuard ng;
  return prediction_accuracy(argmax(logits.detach(), 1), labels);
}

LossMetric prediction_accuracy(const Tensor& pred, const Tensor& labels) {
  SPK_CHECK(!labels.defined() || labels.numel() == pred.numel(), "prediction_accuracy: ", pred.numel(),
            " predictions but ", labels.numel(), " labels");
  return LossMetric(accuracy_percent(pred, labels));
}

LossMetric mean_of(const LossMetric& a, const LossMetric& b) {
  if (a.on_host() && b.on_host()) return (a.value() + b.value()) / 2;
  const Device d = a.on_host() ? b.tensor().device() : a.tensor().device();
  return LossMetric(mul_scalar(add(a.as_tensor(d), b.as_tensor(d)), 0.5));
}

}  // namespace spk
