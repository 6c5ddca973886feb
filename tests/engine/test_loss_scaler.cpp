// LossScaler (engine/loss_scaler.h): GradScaler's state machine step by step (growth after growth_interval finite
// steps, backoff and tracker reset on inf/NaN, no growth to inf), exact unscaling, and the checks of a restored
// state. The trainer's use of it (skipped steps leave the parameters untouched, resume) is tested in
// tests/recipe/test_mixed_precision.cpp.
#include <cmath>
#include <limits>

#include "engine/loss_scaler.h"
#include "engine/ops.h"
#include "support/check.h"

using namespace spk;

TEST_CASE("LossScaler: GradScaler's defaults, growth every 2000 finite steps, backoff on inf") {
  LossScaler s;
  CHECK(s.scale() == 65536.0f);
  CHECK(s.state().growth_tracker == 0);
  for (int i = 1; i < 2000; ++i) REQUIRE(!s.update(false));
  CHECK(s.scale() == 65536.0f);
  CHECK(s.state().growth_tracker == 1999);
  CHECK(s.update(false));   // the 2000th finite step
  CHECK(s.scale() == 131072.0f);
  CHECK(s.state().growth_tracker == 0);
  for (int i = 0; i < 1500; ++i) s.update(false);
  CHECK(s.update(true));    // an overflow resets the tracker: growth waits another 2000 finite steps
  CHECK(s.scale() == 65536.0f);
  CHECK(s.state().growth_tracker == 0);
  for (int i = 1; i < 2000; ++i) REQUIRE(!s.update(false));
  CHECK(s.update(false));
  CHECK(s.scale() == 131072.0f);
  for (int i = 0; i < 3; ++i) s.update(true);
  CHECK(s.scale() == 16384.0f);
}

TEST_CASE("LossScaler: a growth that would reach inf keeps the scale") {
  LossScaler s({.init_scale = std::ldexp(1.0f, 127), .growth_interval = 2});
  CHECK(!s.update(false));
  CHECK(!s.update(false));   // 2^128 is inf in fp32: refused, tracker reset
  CHECK(s.scale() == std::ldexp(1.0f, 127));
  CHECK(s.state().growth_tracker == 0);
}

TEST_CASE("LossScaler: scale_loss multiplies, unscale divides every gradient exactly") {
  LossScaler s({.init_scale = 1024.0f});
  Tensor loss = Tensor::scalar(0.3);
  CHECK(s.scale_loss(loss).item() == doctest::Approx(0.3f * 1024.0f));
  Tensor p = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3}).set_requires_grad();
  Tensor q = Tensor::zeros({2}).set_requires_grad();   // no gradient: left alone
  p.set_grad(Tensor::from_vector(std::vector<float>{1024.0f, -3072.0f, 0.7f * 1024.0f}, {3}));
  s.unscale({{"p", p}, {"q", q}});
  const auto g = p.grad().to_vector<float>();
  CHECK(g[0] == 1.0f);
  CHECK(g[1] == -3.0f);
  CHECK(g[2] == 0.7f);
  CHECK(!q.grad().defined());
}

TEST_CASE("LossScaler: a restored state is checked") {
  LossScaler s;
  s.set_state({512.0f, 7});
  CHECK(s.state() == LossScalerState{512.0f, 7});
  CHECK_THROWS_WITH(s.set_state({0.0f, 0}), doctest::Contains("finite and > 0"));
  CHECK_THROWS_WITH(s.set_state({std::numeric_limits<float>::infinity(), 0}), doctest::Contains("finite and > 0"));
  CHECK_THROWS_WITH(s.set_state({512.0f, 2000}), doctest::Contains("growth tracker must be in [0, 2000)"));
  CHECK_THROWS_WITH(LossScaler({.backoff_factor = 1.0f}), doctest::Contains("backoff_factor"));
}
