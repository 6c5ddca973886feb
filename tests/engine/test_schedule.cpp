// Schedules against hand values. Closed forms where they are easy to work by hand (0.1·sqrt(5e-4) is the
// exponential decay half way); the other values come from running the reference Python schedulers
// (wespeaker/utils/schedulers.py, 3D-Speaker speakerlab/process/scheduler.py) at the same iterations.
#include <cmath>

#include "engine/schedule.h"
#include "support/check.h"

using namespace spk;

TEST_CASE("step_lr: voxceleb_trainer StepLR, lr0 · decay^floor(epoch / interval)") {
  CHECK(step_lr(0.001, 0.95, 10, 0) == 0.001);
  CHECK(step_lr(0.001, 0.95, 10, 9) == 0.001);          // no decay inside the first interval
  CHECK(step_lr(0.001, 0.95, 10, 10) == doctest::Approx(0.00095).epsilon(1e-14).scale(0));
  CHECK(step_lr(0.001, 0.95, 10, 19) == doctest::Approx(0.00095).epsilon(1e-14).scale(0));
  CHECK(step_lr(0.001, 0.95, 10, 25) == doctest::Approx(0.0009025).epsilon(1e-14).scale(0));
  CHECK(step_lr(0.001, 0.95, 10, 100) == doctest::Approx(0.001 * std::pow(0.95, 10)).epsilon(1e-14).scale(0));
  CHECK(step_lr(0.1, 0.5, 1, 3) == 0.0125);
  CHECK_THROWS_WITH_AS(step_lr(0.1, 0.5, 0, 3), doctest::Contains("step_lr: interval 0"), Error);
}

TEST_CASE("ExponentialDecaySchedule: wespeaker ExponentialDecrease with its warm-up coefficient") {
  const double tol = 1e-13;
  // 150 epochs of 100 iterations, warm-up 6 epochs, scale_ratio 2 (batch 128 on one GPU), voxceleb recipe.
  ExponentialDecaySchedule s{.initial_lr = 0.1, .final_lr = 5e-5, .num_epochs = 150, .epoch_iter = 100,
                             .warm_up_epoch = 6, .scale_ratio = 2.0, .warm_from_zero = true};
  CHECK(s(0) == 0.0);
  CHECK(s(1) == doctest::Approx(0.0003331644671779072).epsilon(tol).scale(0));
  CHECK(s(300) == doctest::Approx(0.08589727768376305).epsilon(tol).scale(0));
  CHECK(s(599) == doctest::Approx(0.14739557189650623).epsilon(tol).scale(0));
  CHECK(s(600) == doctest::Approx(0.14756684626963).epsilon(tol).scale(0));      // warm-up ends below 2·lr0
  CHECK(s(7500) == doctest::Approx(2 * 0.1 * std::sqrt(5e-4)).epsilon(tol).scale(0));
  CHECK(s(15000) == doctest::Approx(2 * 5e-5).epsilon(tol).scale(0));

  s.warm_from_zero = false;   // scale_ratio > 1: ramps from 1 to scale_ratio
  CHECK(s(0) == doctest::Approx(0.1).epsilon(tol).scale(0));
  CHECK(s(300) == doctest::Approx(0.1288459165256446).epsilon(tol).scale(0));
  CHECK(s(601) == doctest::Approx(0.14749208913163622).epsilon(tol).scale(0));

  s.scale_ratio = 1.0;        // single process, no warm-up at all
  CHECK(s(1) == doctest::Approx(0.09994934015337215).epsilon(tol).scale(0));
  CHECK(s(300) == doctest::Approx(0.08589727768376305).epsilon(tol).scale(0));
  CHECK(s(7500) == doctest::Approx(0.1 * std::sqrt(5e-4)).epsilon(tol).scale(0));
  CHECK(s(14999) == doctest::Approx(5.002534276191826e-05).epsilon(tol).scale(0));
}

TEST_CASE("WarmupCosineSchedule: 3D-Speaker warm-up then cosine to min_lr") {
  WarmupCosineSchedule s{.min_lr = 0.01, .max_lr = 0.2, .warmup_epoch = 5, .fix_epoch = 100, .epoch_iter = 10};
  const double tol = 1e-14;
  CHECK(s(0) == doctest::Approx(0.01).epsilon(tol).scale(0));
  CHECK(s(25) == doctest::Approx(0.105).epsilon(tol).scale(0));     // half way up from min_lr
  CHECK(s(49) == doctest::Approx(0.1962).epsilon(tol).scale(0));
  CHECK(s(50) == doctest::Approx(0.2).epsilon(tol).scale(0));       // cos(0)
  CHECK(s(51) == doctest::Approx(0.1999994805476102).epsilon(tol).scale(0));
  CHECK(s(525) == doctest::Approx(0.105).epsilon(tol).scale(0));    // cos(pi/2)
  CHECK(s(999) == doctest::Approx(0.010000519452389823).epsilon(tol).scale(0));
  CHECK(s(1000) == 0.01);
  CHECK(s(2000) == 0.01);
  s.warm_from_zero = true;
  CHECK(s(0) == 0.0);
  CHECK(s(25) == doctest::Approx(0.1).epsilon(tol).scale(0));
  CHECK(s(50) == doctest::Approx(0.2).epsilon(tol).scale(0));
}

TEST_CASE("MarginSchedule: wespeaker margin ramp between epochs 20 and 40") {
  MarginSchedule m{.initial_margin = 0.0, .final_margin = 0.2, .increase_start_epoch = 20, .fix_start_epoch = 40,
                   .epoch_iter = 10};
  const double tol = 1e-13;
  CHECK(m(0) == 0.0);
  CHECK(m(189) == 0.0);                          // (20 - 1)·10 is the first ramp iteration
  CHECK(m(190) == 0.0);                          // ratio 1 - exp(0)
  CHECK(m(191) == doctest::Approx(0.006789825168087727).epsilon(tol).scale(0));
  CHECK(m(290) == doctest::Approx(0.2 * (1 - std::sqrt(1e-3 / (1 + 1e-6)))).epsilon(tol).scale(0));
  CHECK(m(389) == doctest::Approx(0.19979297177265723).epsilon(tol).scale(0));
  CHECK(m(390) == 0.2);
  CHECK(m(1000) == 0.2);
  m.exponential = false;
  CHECK(m(191) == doctest::Approx(0.001).epsilon(tol).scale(0));
  CHECK(m(290) == doctest::Approx(0.1).epsilon(tol).scale(0));
  CHECK(m(389) == doctest::Approx(0.199).epsilon(tol).scale(0));
  MarginSchedule bad{.increase_start_epoch = 40, .fix_start_epoch = 20};
  CHECK_THROWS_WITH_AS(bad(0), doctest::Contains("fix_start_epoch >= increase_start_epoch"), Error);
}
