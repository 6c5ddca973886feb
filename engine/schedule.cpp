// Schedule formulas; see schedule.h for the sources and the exact definitions.
#include "engine/schedule.h"

#include <cmath>
#include <numbers>

#include "engine/check.h"

namespace spk {

double step_lr(double lr0, double decay, int64_t interval, int64_t epoch) {
  SPK_CHECK(interval > 0 && epoch >= 0, "step_lr: interval ", interval, " must be > 0 and epoch ", epoch, " >= 0");
  return lr0 * std::pow(decay, double(epoch / interval));
}

double ExponentialDecaySchedule::operator()(int64_t iter) const {
  const int64_t max_iter = num_epochs * epoch_iter;
  SPK_CHECK(max_iter > 0 && iter >= 0 && initial_lr > 0 && final_lr > 0,
            "ExponentialDecaySchedule: needs num_epochs·epoch_iter > 0, iter >= 0 and positive lrs (got ", num_epochs,
            "·", epoch_iter, ", iter ", iter, ", lrs ", initial_lr, " -> ", final_lr, ")");
  const int64_t warm_up_iter = warm_up_epoch * epoch_iter;
  double coeff = scale_ratio;
  if (iter < warm_up_iter) {
    if (warm_from_zero) coeff = scale_ratio * double(iter) / double(warm_up_iter);
    else if (scale_ratio > 1) coeff = (scale_ratio - 1) * double(iter) / double(warm_up_iter) + 1.0;
  }
  return coeff * initial_lr * std::exp((double(iter) / double(max_iter)) * std::log(final_lr / initial_lr));
}

double WarmupCosineSchedule::operator()(int64_t iter) const {
  const int64_t warm = warmup_epoch * epoch_iter, fix = fix_epoch * epoch_iter;
  SPK_CHECK(iter >= 0 && warm >= 0 && fix >= warm && min_lr <= max_lr,
            "WarmupCosineSchedule: needs iter >= 0, 0 <= warmup_epoch <= fix_epoch and min_lr <= max_lr");
  const double it = double(iter);
  if (iter < warm) {
    double start = warm_from_zero ? 0.0 : min_lr;
    return start + (max_lr - start) * (it / double(warm));
  }
  if (iter < fix)
    return min_lr + 0.5 * (max_lr - min_lr) * (1 + std::cos(std::numbers::pi * (it - double(warm)) / double(fix - warm)));
  return min_lr;
}

double MarginSchedule::operator()(int64_t iter) const {
  const int64_t start = (increase_start_epoch - 1) * epoch_iter, fix = (fix_start_epoch - 1) * epoch_iter;
  SPK_CHECK(iter >= 0 && fix >= start, "MarginSchedule: needs iter >= 0 and fix_start_epoch >= increase_start_epoch");
  if (iter >= fix) return final_margin;
  if (iter < start) return initial_margin;
  const double t = double(iter - start) / double(fix - start);
  const double ratio = exponential ? 1.0 - std::exp(t * std::log(1e-3 / (1.0 + 1e-6))) * 1.0 : t;
  return initial_margin + (final_margin - initial_margin) * ratio;
}

}  // namespace spk
