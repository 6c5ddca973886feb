// The per-channel scalar formulas of the fused attentive pooling (kernels/attnpool/attnpool.h), shared by the CPU
// loops and the CUDA kernels so the two cannot drift.
#pragma once
#include <cmath>

#include "kernels/attnpool/attnpool.h"
#include "kernels/common/half.h"   // SPK_HD

namespace spk::attnpool {

using std::sqrt;

// sg = sqrt(clamp(v, lo, hi)), in T as the composed clamp and sqrt round.
template <class T> SPK_HD T stat_std(T v, StatClamp c) {
  const T lo = T(c.lo), hi = T(c.hi);
  return sqrt(v < lo ? lo : (v > hi ? hi : v));
}

// The gradients of one channel's statistics with respect to its weighted sums: dmu' (to Σ w x) and dm2 (to Σ w x²),
// given dmu, and dsg when with_std (sg = sqrt(clamp(m2 − mu², lo, hi)), torch's clamp passing lo ≤ v ≤ hi).
template <class T> struct StatGrads {
  T dmu, dm2;
};
template <class T> SPK_HD StatGrads<T> stat_grads(T mu, T sg, T v, T dmu, T dsg, bool with_std, StatClamp c) {
  if (!with_std) return {dmu, T(0)};
  const bool pass = !(v < T(c.lo) || v > T(c.hi));
  const T dv = pass ? dsg * (T(0.5) / sg) : T(0);
  return {dmu - T(2) * mu * dv, dv};
}

}  // namespace spk::attnpool
