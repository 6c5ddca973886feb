// --mixedprec (issue 17): voxceleb_trainer's flag (torch.cuda.amp.autocast + GradScaler there) on spk's engine.
//
//   off   everything fp32 (the default).
//   bf16  autocast to bf16 (engine/autocast.h: the GEMM and conv products read bf16 operands, accumulate in fp32);
//         no loss scaling: bf16 has fp32's exponent range. `true` (a voxceleb_trainer YAML's mixedprec: True) = bf16.
//   fp16  autocast to IEEE fp16 with dynamic loss scaling (engine/loss_scaler.h, GradScaler's defaults): the loss
//         is multiplied by the scale before backward; a step whose gradients hold inf/NaN is skipped (no parameter
//         or optimiser state moves) and the scale halves; otherwise the gradients are unscaled before the
//         optimiser (and before any clipping) and the step is taken. The scale and its tracker are saved in the
//         checkpoint (spk.loss_scaler) and restored on resume.
// The master weights, the optimiser state and the gradients are fp32 in every mode. On --device cpu the casts are
// emulated exactly in fp32 storage (no speed-up; fp16 on the CPU is allowed and the log says it is emulated).
// The front end (fbank/MFCC) always runs in fp32, as voxceleb_trainer's models run it outside autocast.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/device.h"
#include "engine/loss_scaler.h"
#include "engine/module.h"

namespace spk::recipe {

// The autocast type of a --mixedprec value (nullopt for off/false); UsageError naming the flag otherwise.
std::optional<DType> parse_mixedprec(const std::string& value);

class MixedPrecision {
 public:
  MixedPrecision(const std::string& mixedprec, const Device& device);   // throws UsageError on a bad value

  std::optional<DType> autocast() const { return type_; }   // for AutocastGuard around the forward
  bool scales_loss() const { return scaler_ != nullptr; }    // fp16
  float scale() const { return scaler_ ? scaler_->scale() : 1.0f; }
  // The setup line for the log ("" when off): the type, what runs in it, and whether it is emulated.
  std::string describe() const;

  Tensor loss_for_backward(const Tensor& loss) const;   // loss · scale with fp16, else loss
  // A step whose gradients are not finite under fp16: backs the scale off and returns the log line; throws when
  // the scale falls below 2^-24 (a divergence, not an overflow). Call only when scales_loss(); the caller drops
  // the gradients.
  std::string overflow(int64_t epoch, int64_t batch, int64_t step);
  void unscale(const NamedTensors& params) const;   // before the optimiser (no-op without scaling)
  // After an applied step: advances the tracker; returns a log line when the scale grew, else "".
  std::string stepped();

  nlohmann::json checkpoint_state() const;   // null without scaling, else {"scale": s, "growth_tracker": n}
  // A resumed run's saved state (null: none saved; a fresh scale, said in the returned line, "" when nothing to
  // say). Errors name the checkpoint.
  std::string restore(const nlohmann::json& saved, const std::string& checkpoint);

 private:
  std::optional<DType> type_;
  Device device_;
  std::unique_ptr<LossScaler> scaler_;
};

}  // namespace spk::recipe
