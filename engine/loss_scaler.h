// Dynamic loss scaling for fp16 autocast (--mixedprec fp16), torch.cuda.amp.GradScaler's state machine:
//
//   backward on loss · scale;  the gradients, scaled, are checked for inf/NaN;
//   found one: the step is skipped (no parameter or optimiser state moves), scale ·= backoff_factor, tracker = 0;
//   else:      gradients · (1/scale) (unscale, before clipping and the optimiser), the step is taken,
//              tracker += 1, and when it reaches growth_interval: scale ·= growth_factor (kept only if finite),
//              tracker = 0.
// Defaults as GradScaler's: init_scale 2^16, growth_factor 2, backoff_factor 0.5, growth_interval 2000. The scale
// is an fp32 value, as GradScaler's scale tensor, so the powers of two it walks through are exact and 1/scale
// (computed in double and rounded to fp32, as GradScaler's unscale does) makes unscaling exact too, except for
// gradients that reach fp32's subnormal range.
//
// The state (scale, tracker) is two numbers; a checkpoint saves them so that a resumed run scales as the
// uninterrupted one would have (apps/recipe/mixed_precision.h).
#pragma once
#include <cstdint>

#include "engine/module.h"   // NamedTensors
#include "engine/tensor.h"

namespace spk {

struct LossScalerOptions {
  float init_scale = 65536.0f;
  float growth_factor = 2.0f;
  float backoff_factor = 0.5f;
  int64_t growth_interval = 2000;
};

struct LossScalerState {
  float scale = 65536.0f;
  int64_t growth_tracker = 0;   // finite steps since the last change of scale
  bool operator==(const LossScalerState&) const = default;
};

class LossScaler {
 public:
  explicit LossScaler(LossScalerOptions options = {});

  float scale() const { return state_.scale; }
  const LossScalerState& state() const { return state_; }
  const LossScalerOptions& options() const { return options_; }
  // Restores a saved state; throws if the scale is not finite and positive or the tracker is outside
  // [0, growth_interval).
  void set_state(const LossScalerState& s);

  Tensor scale_loss(const Tensor& loss) const;       // loss · scale (differentiable)
  void unscale(const NamedTensors& params) const;    // every defined gradient · (1/scale), no autograd
  // After a step's gradients were checked: found_inf true means the step was skipped. Returns true when the scale
  // changed (backoff or growth).
  bool update(bool found_inf);

 private:
  LossScalerOptions options_;
  LossScalerState state_;
};

}  // namespace spk
