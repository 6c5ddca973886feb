// Helpers of the raw-waveform model tests (SincTDNN, RawNet3): random and synthetic-speaker waveforms, the
// backward check with parameters a reference registers but never uses, and the "a few steps lower the loss" check.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "losses/loss.h"
#include "model_test_util.h"
#include "nets/model.h"

namespace spk::test {

inline Tensor random_wave(int64_t b, int64_t samples, uint64_t seed = 11) {
  Rng rng(seed);
  return Tensor::normal({b, 1, samples}, rng, 0, 0.1);
}

// Speaker k (of 4) hums at its own pitch (110·(k+1) Hz) with two harmonics, plus noise: rows 2k, 2k+1.
inline std::pair<Tensor, Tensor> synthetic_speakers(int64_t samples, uint64_t seed = 5) {
  Rng rng(seed);
  const Tensor noise = Tensor::normal({8, 1, samples}, rng, 0, 0.05);
  std::vector<double> wav(size_t(8 * samples));
  const auto nz = noise.to_double();
  for (int64_t r = 0; r < 8; ++r) {
    const double f0 = 110.0 * double(r / 2 + 1), phase = 0.7 * double(r);
    for (int64_t t = 0; t < samples; ++t) {
      const double s = double(t) / 16000.0;
      double v = 0;
      for (int h = 1; h <= 3; ++h) v += std::sin(2 * std::numbers::pi * f0 * h * s + phase * h) / h;
      wav[size_t(r * samples + t)] = 0.3 * v + nz[size_t(r * samples + t)];
    }
  }
  return {Tensor::from_vector(wav, {8, 1, samples}), Tensor::from_vector(std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3}, {8})};
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

// Adam (lr) on model + loss parameters, 6 steps on one batch of synthetic_speakers: the loss falls by 20 % or more.
inline void check_loss_falls(SpeakerNet& net, Loss& loss, int64_t samples, double lr) {
  auto [wav, labels] = synthetic_speakers(samples);
  NamedTensors params = net.named_parameters();
  for (auto& p : loss.named_parameters()) params.push_back({"loss." + p.first, p.second});
  Adam opt(params, lr);
  net.train();
  std::vector<double> losses;
  for (int step = 0; step < 6; ++step) {
    opt.zero_grad();
    Tensor l = loss.forward(net.forward(wav), labels).loss;
    losses.push_back(l.item());
    l.backward();
    opt.step();
  }
  std::string all;
  for (double l : losses) all += " " + std::to_string(l);
  INFO("losses" << all);
  CHECK(std::isfinite(losses[5]));
  CHECK(losses[5] < 0.8 * losses[0]);
}

}  // namespace spk::test
