// Learning-rate and margin schedules, as pure functions of the epoch or iteration, with the exact formulas
// of the systems we match: voxceleb_trainer scheduler/steplr.py (StepLR stepped once per epoch), wespeaker
// wespeaker/utils/schedulers.py (ExponentialDecrease, MarginScheduler) and 3D-Speaker
// speakerlab/process/scheduler.py (WarmupCosineScheduler).
//
// Iteration counts are global and 0-based, as wespeaker and 3D-Speaker pass them:
// iter = (epoch - 1)·epoch_iter + i for 1-based epoch and 0-based batch index i. The trainer sets
// optimizer.set_lr(schedule(iter)) before each step (or once per epoch for step_lr).
#pragma once
#include <cstdint>

namespace spk {

// voxceleb_trainer --scheduler steplr: StepLR(step_size = test_interval, gamma = lr_decay), stepped once per
// epoch: lr = lr0 · decay^floor(epoch / interval). `epoch` is the number of epochs completed (scheduler.step()
// calls so far): 0 during voxceleb_trainer's first epoch (its 1-based `it` is epoch + 1).
double step_lr(double lr0, double decay, int64_t interval, int64_t epoch);

// wespeaker ExponentialDecrease (wespeaker/utils/schedulers.py):
//   lr(it) = coeff(it) · initial_lr · exp((it / max_iter) · ln(final_lr / initial_lr)),  max_iter = num_epochs·epoch_iter
//   coeff  = scale_ratio after warm-up (it >= warm_up_epoch·epoch_iter); during warm-up
//            scale_ratio · it / warm_up_iter              when warm_from_zero (the voxceleb recipes),
//            (scale_ratio - 1) · it / warm_up_iter + 1    when scale_ratio > 1,
//            scale_ratio                                  otherwise.
// The warm-up ramps a coefficient on top of the decaying curve: at the end of warm-up the lr is the
// decayed value at that iteration, not initial_lr. wespeaker's train.py sets scale_ratio =
// world_size · batch_size / 64.
struct ExponentialDecaySchedule {
  double initial_lr = 0.1, final_lr = 5e-5;
  int64_t num_epochs = 150, epoch_iter = 1;
  int64_t warm_up_epoch = 6;
  double scale_ratio = 1.0;
  bool warm_from_zero = false;
  double operator()(int64_t iter) const;
};

// 3D-Speaker WarmupCosineScheduler (speakerlab/process/scheduler.py), with T = warmup_epoch·epoch_iter,
// F = fix_epoch·epoch_iter:
//   it < T       lr = min_lr + (max_lr - min_lr) · it / T      (warm_from_zero: max_lr · it / T, as wespeaker's
//                                                               WarmupCosineScheduler)
//   T <= it < F  lr = min_lr + 0.5 · (max_lr - min_lr) · (1 + cos(pi · (it - T) / (F - T)))
//   it >= F      lr = min_lr
struct WarmupCosineSchedule {
  double min_lr = 5e-5, max_lr = 0.2;
  int64_t warmup_epoch = 5, fix_epoch = 150, epoch_iter = 1;
  bool warm_from_zero = false;
  double operator()(int64_t iter) const;
};

// wespeaker MarginScheduler: margin fixed at initial_margin before S = (increase_start_epoch - 1)·epoch_iter,
// final_margin from F = (fix_start_epoch - 1)·epoch_iter on, and in between
//   m = initial + (final - initial) · ratio,
//   ratio = 1 - exp(((it - S) / (F - S)) · ln(1e-3 / (1 + 1e-6)))     (exponential, the default)
//   ratio = (it - S) / (F - S)                                       (linear)
// Note the exponential ramp reaches only ratio ≈ 0.999 just before F, then jumps to final_margin.
struct MarginSchedule {
  double initial_margin = 0.0, final_margin = 0.2;
  int64_t increase_start_epoch = 20, fix_start_epoch = 40, epoch_iter = 1;
  bool exponential = true;
  double operator()(int64_t iter) const;
};

}  // namespace spk
