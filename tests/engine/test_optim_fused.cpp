// The fused (multi-tensor) optimiser steps against the per-parameter reference path (engine ops), bit for
// bit: SGD in each of its variants, Adam with L2 decay, AdamW, in f32 and f64, over parameters of several
// shapes, with a parameter that skips steps (no gradient) so the per-parameter step counts differ, and a
// reload of the state in between.
#include <cstring>
#include <functional>
#include <memory>

#include "engine/optim.h"
#include "engine/rng.h"
#include "support/check.h"

using namespace spk;

namespace {

const std::vector<Shape> kShapes{{7, 3}, {5}, {1}, {2, 3, 4}};

NamedTensors make_params(DType dt, uint64_t seed) {
  Rng rng(seed);
  NamedTensors ps;
  for (size_t i = 0; i < kShapes.size(); ++i)
    ps.emplace_back("p" + std::to_string(i), test::rand_input(kShapes[i], rng, -1, 1).detach().to(dt).set_requires_grad());
  return ps;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.numel()) * dtype_size(x.dtype())) == 0;
}

using Factory = std::function<std::unique_ptr<Optimizer>(NamedTensors)>;

// Six steps of the same gradients through the fused and the reference optimiser; parameter p1 has no gradient
// on steps 2 and 5. After step 3 both export their state and reload it. Every parameter and every state
// tensor must agree bit for bit after every step.
void compare(const Factory& make, DType dt, const char* what) {
  NamedTensors pf = make_params(dt, 11), pr = make_params(dt, 11);
  std::unique_ptr<Optimizer> fused = make(pf), ref = make(pr);
  ref->fused = false;
  REQUIRE(fused->fused);
  Rng rng(5);
  for (int step = 1; step <= 6; ++step) {
    for (size_t i = 0; i < pf.size(); ++i) {
      pf[i].second.zero_grad();
      pr[i].second.zero_grad();
      if (i == 1 && (step == 2 || step == 5)) continue;
      Tensor g = test::rand_input(kShapes[i], rng, -2, 2).detach().to(dt);
      pf[i].second.set_grad(g.clone());
      pr[i].second.set_grad(g.clone());
    }
    fused->set_lr(0.05 * step);
    ref->set_lr(0.05 * step);
    fused->step();
    ref->step();
    for (size_t i = 0; i < pf.size(); ++i)
      CHECK_MESSAGE(same_bits(pf[i].second, pr[i].second), what, " ", dtype_name(dt), ": ", pf[i].first,
                    " differs after step ", step);
    const NamedTensors sf = fused->state(), sr = ref->state();
    REQUIRE(sf.size() == sr.size());
    for (size_t k = 0; k < sf.size(); ++k) {
      CHECK(sf[k].first == sr[k].first);
      CHECK_MESSAGE(same_bits(sf[k].second, sr[k].second), what, " ", dtype_name(dt), ": ", sf[k].first,
                    " differs after step ", step);
    }
    if (step == 3) {   // a resumed run continues bit for bit too
      NamedTensors saved;
      for (const auto& [n, t] : sf) saved.emplace_back(n, t.clone());
      fused->load_state(saved);
    }
  }
}

void both_dtypes(const Factory& make, const char* what) {
  compare(make, DType::f32, what);
  compare(make, DType::f64, what);
}

}  // namespace

TEST_CASE("fused SGD equals the per-parameter SGD bit for bit") {
  both_dtypes([](NamedTensors p) { return std::make_unique<SGD>(std::move(p), 0.1); }, "plain");
  both_dtypes([](NamedTensors p) { return std::make_unique<SGD>(std::move(p), 0.1, SGDOptions{.weight_decay = 0.01}); },
              "weight decay");
  both_dtypes([](NamedTensors p) {
    return std::make_unique<SGD>(std::move(p), 0.1, SGDOptions{.momentum = 0.9, .dampening = 0.3, .weight_decay = 5e-4});
  }, "momentum + dampening");
  both_dtypes([](NamedTensors p) {
    return std::make_unique<SGD>(std::move(p), 0.1, SGDOptions{.momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  }, "nesterov");
}

TEST_CASE("fused Adam and AdamW equal the per-parameter versions bit for bit") {
  both_dtypes([](NamedTensors p) { return std::make_unique<Adam>(std::move(p), 1e-3); }, "adam");
  both_dtypes([](NamedTensors p) {
    return std::make_unique<Adam>(std::move(p), 1e-3, AdamOptions{.beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 2e-5});
  }, "adam + L2");
  both_dtypes([](NamedTensors p) { return std::make_unique<AdamW>(std::move(p), 1e-3); }, "adamw");
  both_dtypes([](NamedTensors p) {
    return std::make_unique<AdamW>(std::move(p), 2e-3, AdamOptions{.eps = 1e-7, .weight_decay = 0.05});
  }, "adamw + decay");
}

// The fused path must actually be the one that ran: it updates the state buffers in place, where the
// reference path replaces them with new tensors.
TEST_CASE("fused Adam updates its state in place") {
  NamedTensors p = make_params(DType::f32, 3);
  Adam opt(p, 1e-3);
  for (auto& [n, t] : p) t.set_grad(Tensor::ones(t.shape(), DType::f32));
  opt.step();
  REQUIRE(opt.state()[3].first == "optim.state.p0.exp_avg");
  const void* before = opt.state()[3].second.data_ptr();
  opt.step();
  CHECK(opt.state()[3].second.data_ptr() == before);
}
