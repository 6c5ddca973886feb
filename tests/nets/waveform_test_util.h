// Helpers of the raw-waveform model tests (SincTDNN, RawNet3): random waveforms and the backward check with
// parameters a reference registers but never uses. (The training-step checks, which need losses/, are in
// tests/recipe/test_train_waveform.cpp.)
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/rng.h"
#include "model_test_util.h"
#include "nets/model.h"

namespace spk::test {

inline Tensor random_wave(int64_t b, int64_t samples, uint64_t seed = 11) {
  Rng rng(seed);
  return Tensor::normal({b, 1, samples}, rng, 0, 0.1);
}

// loss = mean(y^2) in train mode: every parameter gets a finite, not all-zero gradient, except those whose name
// starts with one of `unused` (registered by the reference, never used by its forward): they get none.
inline void check_backward_except(SpeakerNet& net, const Tensor& wav, const std::vector<std::string>& unused) {
  net.train();
  net.zero_grad();
  Tensor y = net.forward(wav);
  mean(y * y).backward();
  double total = 0;
  for (const auto& [n, p] : net.named_parameters()) {
    INFO("parameter ", n);
    bool is_unused = false;
    for (const auto& u : unused) is_unused |= n.rfind(u, 0) == 0;
    if (is_unused) {
      CHECK_FALSE(p.grad().defined());
      continue;
    }
    REQUIRE(p.grad().defined());
    CHECK(all_finite(p.grad()));
    for (double v : p.grad().to_double()) total += std::abs(v);
  }
  CHECK(total > 0);
}

}  // namespace spk::test
