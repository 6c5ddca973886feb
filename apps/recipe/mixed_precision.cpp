// --mixedprec (apps/recipe/mixed_precision.h).
#include "apps/recipe/mixed_precision.h"

#include <cmath>

#include "apps/recipe/config.h"
#include "engine/check.h"
#include "engine/conv_context.h"   // conv_cpu_call_options, bf16_dnnl_usable (kernels/conv/conv.h)

namespace spk::recipe {

using flag_check::num;

namespace {
const float kMinScale = std::ldexp(1.0f, -24);   // fp16's least subnormal
}  // namespace

std::optional<DType> parse_mixedprec(const std::string& value) {
  if (value == "off" || value == "false") return std::nullopt;
  if (value == "bf16" || value == "true") return DType::bf16;
  if (value == "fp16") return DType::f16;
  throw UsageError("--mixedprec: '" + value + "' is not one of off, bf16, fp16 (true = bf16, false = off)");
}

MixedPrecision::MixedPrecision(const std::string& mixedprec, const Device& device)
    : type_(parse_mixedprec(mixedprec)), device_(device) {
  if (type_ == DType::f16) scaler_ = std::make_unique<LossScaler>();
}

std::string MixedPrecision::describe() const {
  if (!type_) return "";
  const std::string t = *type_ == DType::bf16 ? "bf16" : "fp16";
  std::string s = "--mixedprec " + t + ": matmul/linear and conv1d/conv2d (forward and backward) read " + t +
                  " operands and accumulate in fp32; every other op, the master weights and the optimiser state "
                  "stay fp32";
  if (scaler_)
    s += "; dynamic loss scaling from " + num(scaler_->scale()) + " (x" + num(scaler_->options().growth_factor) +
         " every " + std::to_string(scaler_->options().growth_interval) + " finite steps, x" +
         num(scaler_->options().backoff_factor) + " and the step skipped on inf/NaN gradients)";
  if (device_.is_cpu() && *type_ == DType::bf16 && conv_cpu_call_options().backend != ConvCpuBackend::spk &&
      bf16_dnnl_usable())
    s += "; on the CPU the convs run oneDNN's bf16 kernels (this CPU has AVX512-BF16/AMX), the GEMMs are emulated "
         "(values rounded in fp32 storage)";
  else if (device_.is_cpu())
    s += "; on the CPU the " + t + " casts are emulated (values rounded in fp32 storage: the numerics, no speed-up" +
         (*type_ == DType::bf16 ? std::string(": this CPU or build has no oneDNN bf16 convs") : std::string()) + ")";
  else
    s += "; GEMMs through cuBLAS GemmEx with " + t + " inputs, convs emulated in fp32 storage (no 16-bit conv kernel)";
  return s;
}

Tensor MixedPrecision::loss_for_backward(const Tensor& loss) const {
  return scaler_ ? scaler_->scale_loss(loss) : loss;
}

std::string MixedPrecision::overflow(int64_t epoch, int64_t batch, int64_t step) {
  SPK_CHECK(scaler_, "MixedPrecision::overflow without loss scaling");
  const float before = scaler_->scale();
  scaler_->update(true);
  // Below fp16's least subnormal the scaled gradients still overflow: not a range problem that scaling can fix but
  // a divergence, and halving on would reach 0 (then 1/scale = inf).
  if (scaler_->scale() < kMinScale)
    throw Error("training stopped (--mixedprec fp16): inf/NaN gradients at epoch " + std::to_string(epoch) +
                ", batch " + std::to_string(batch) + " (step " + std::to_string(step) + "): the loss scale fell from " + num(before) +
                " below 2^-24, fp16's least number, so the gradients diverge rather than overflow; lower --lr or use "
                "--mixedprec bf16");
  return "--mixedprec fp16: inf/NaN gradients at epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch) +
         " (step " + std::to_string(step) + "): step skipped, loss scale " + num(before) + " -> " +
         num(scaler_->scale());
}

void MixedPrecision::unscale(const NamedTensors& params) const {
  if (scaler_) scaler_->unscale(params);
}

std::string MixedPrecision::stepped() {
  if (!scaler_) return "";
  const float before = scaler_->scale();
  if (!scaler_->update(false)) return "";
  return "--mixedprec fp16: " + std::to_string(scaler_->options().growth_interval) +
         " finite steps in a row: loss scale " + num(before) + " -> " + num(scaler_->scale());
}

nlohmann::json MixedPrecision::checkpoint_state() const {
  if (!scaler_) return nullptr;
  return {{"scale", scaler_->state().scale}, {"growth_tracker", scaler_->state().growth_tracker}};
}

std::string MixedPrecision::restore(const nlohmann::json& saved, const std::string& checkpoint) {
  if (!scaler_) return "";
  if (saved.is_null())
    return "--mixedprec fp16: the checkpoint " + checkpoint + " has no loss scale (trained without fp16): starting "
           "from " + num(scaler_->scale());
  const auto scale = saved.find("scale"), tracker = saved.find("growth_tracker");
  if (!saved.is_object() || scale == saved.end() || !scale->is_number() || tracker == saved.end() ||
      !tracker->is_number_integer())
    SPK_FAIL("checkpoint ", checkpoint, ": metadata 'spk.loss_scaler' needs a number \"scale\" and an integer "
             "\"growth_tracker\": ", saved.dump());
  try {
    scaler_->set_state({scale->get<float>(), tracker->get<int64_t>()});
  } catch (const Error& e) {
    SPK_FAIL("checkpoint ", checkpoint, ": metadata 'spk.loss_scaler': ", e.what());
  }
  return "";
}

}  // namespace spk::recipe
