// Helpers shared by the model tests: random features, state_dict name lookup, the BatchNorm
// train/eval check and the backward smoke test.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/ops.h"
#include "engine/rng.h"
#include "nets/model.h"

namespace spk::test {

inline Tensor random_feats(int64_t b, int64_t n_mels, int64_t t, uint64_t seed = 7) {
  Rng rng(seed);
  return Tensor::normal({b, n_mels, t}, rng);
}

inline bool has_state(const Module& m, const std::string& name, const Shape& shape) {
  for (const auto& [n, t] : m.state())
    if (n == name) return t.shape() == shape;
  return false;
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto x = a.to_double(), y = b.to_double();
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

inline bool all_finite(const Tensor& t) {
  for (double v : t.to_double())
    if (!std::isfinite(v)) return false;
  return true;
}

// Train mode normalises with batch statistics and counts the batch; eval mode uses the running
// statistics, leaves them alone, and makes each row independent of the rest of the batch.
inline void check_train_eval(SpeakerNet& net, const Tensor& feats) {
  Tensor counter;
  for (const auto& [n, t] : net.named_buffers())
    if (n.size() >= 19 && n.substr(n.size() - 19) == "num_batches_tracked") counter = t;
  REQUIRE(counter.defined());
  net.train();
  const double before = counter.item();
  Tensor y_train = net.forward(feats);
  CHECK(counter.item() == before + 1);
  net.eval();
  Tensor y_eval = net.forward(feats);
  CHECK(counter.item() == before + 1);
  CHECK(max_abs_diff(y_train, y_eval) > 1e-3);
  // Eval: the first row alone gives the same embedding as within the batch.
  Tensor y0 = net.forward(contiguous(slice(feats, 0, 0, 1)));
  CHECK(max_abs_diff(y0, slice(y_eval, 0, 0, 1)) < 1e-4);
  net.train();
}

// loss = mean(y^2) in train mode; every parameter gets a finite gradient, and not all are zero.
inline void check_backward(SpeakerNet& net, const Tensor& feats) {
  net.train();
  net.zero_grad();
  Tensor y = net.forward(feats);
  mean(y * y).backward();
  double total = 0;
  for (const auto& [n, p] : net.named_parameters()) {
    INFO("parameter ", n);
    REQUIRE(p.grad().defined());
    CHECK(p.grad().shape() == p.shape());
    CHECK(all_finite(p.grad()));
    for (double v : p.grad().to_double()) total += std::abs(v);
  }
  CHECK(total > 0);
}

}  // namespace spk::test
