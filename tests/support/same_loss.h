// A fused loss op against the composed ops it replaces, on the same f32 inputs: values and gradients. Shared by
// tests/engine/test_fused_loss.cpp (composed from engine ops) and tests/losses/ (composed from the losses' parts).
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "support/check.h"

namespace spk::test {

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_double()) m = std::max(m, std::abs(v));
  return m;
}

using LossOf = std::function<Tensor(const std::vector<Tensor>&)>;

// Gradients of f (a scalar) w.r.t. fresh f32 leaves copied from `in`.
inline std::vector<Tensor> grads_of(const LossOf& f, const std::vector<Tensor>& in, Tensor* value) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : in) leaves.push_back(t.clone().set_requires_grad(true));
  Tensor v = f(leaves);
  v.backward();
  *value = v.detach();
  std::vector<Tensor> g;
  for (const Tensor& l : leaves) g.push_back(l.grad());
  return g;
}

// fused vs composed on the same f32 inputs: values to 1e-6 relative; each gradient element to 1e-5 relative
// plus 2e-6 of the tensor's largest entry (sums of thousands of f32 products in a different order and grouping;
// measured: both pass at a third of these), with a 1e-7 floor for gradients that are 0 in exact arithmetic
// (the bias of a softmax: Σ_j (p_ij − δ_ij) = 0) and so only rounding noise in f32.
inline void expect_same_loss(const std::string& what, const LossOf& fused, const LossOf& composed,
                             const std::vector<Tensor>& in) {
  Tensor vf, vc;
  auto gf = grads_of(fused, in, &vf), gc = grads_of(composed, in, &vc);
  expect_close(vf, vc, 0, 1e-6, what + ": loss");
  for (size_t k = 0; k < gf.size(); ++k)
    expect_close(gf[k], gc[k], std::max(2e-6 * max_abs(gc[k]), 1e-7), 1e-5,
                 what + ": gradient of input " + std::to_string(k));
}

}  // namespace spk::test
