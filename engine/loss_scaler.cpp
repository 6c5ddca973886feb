// LossScaler (engine/loss_scaler.h).
#include "engine/loss_scaler.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/check.h"
#include "engine/ops.h"

namespace spk {

LossScaler::LossScaler(LossScalerOptions options) : options_(options) {
  SPK_CHECK(std::isfinite(options.init_scale) && options.init_scale > 0,
            "LossScaler: init_scale must be finite and > 0, got ", options.init_scale);
  SPK_CHECK(options.growth_factor > 1, "LossScaler: growth_factor must be > 1, got ", options.growth_factor);
  SPK_CHECK(options.backoff_factor > 0 && options.backoff_factor < 1,
            "LossScaler: backoff_factor must be in (0, 1), got ", options.backoff_factor);
  SPK_CHECK(options.growth_interval >= 1, "LossScaler: growth_interval must be >= 1, got ", options.growth_interval);
  state_.scale = options.init_scale;
}

void LossScaler::set_state(const LossScalerState& s) {
  SPK_CHECK(std::isfinite(s.scale) && s.scale > 0, "loss scaler: the scale must be finite and > 0, got ", s.scale);
  SPK_CHECK(s.growth_tracker >= 0 && s.growth_tracker < options_.growth_interval,
            "loss scaler: the growth tracker must be in [0, ", options_.growth_interval, "), got ", s.growth_tracker);
  state_ = s;
}

Tensor LossScaler::scale_loss(const Tensor& loss) const { return mul_scalar(loss, double(state_.scale)); }

void LossScaler::unscale(const NamedTensors& params) const {
  NoGradGuard ng;
  const double inv = double(float(1.0 / double(state_.scale)));   // GradScaler: reciprocal in double, then fp32
  for (const auto& [name, p] : params) {
    const Tensor g = p.grad();
    if (g.defined()) p.set_grad(mul_scalar(g, inv));
  }
}

bool LossScaler::update(bool found_inf) {
  if (found_inf) {
    state_.scale *= options_.backoff_factor;
    state_.growth_tracker = 0;
    return true;
  }
  if (++state_.growth_tracker < options_.growth_interval) return false;
  state_.growth_tracker = 0;
  const float grown = state_.scale * options_.growth_factor;
  if (!std::isfinite(grown)) return false;   // GradScaler keeps the old scale rather than reach inf
  state_.scale = grown;
  return true;
}

}  // namespace spk
