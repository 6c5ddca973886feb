// The scalar formulas of the fused losses (kernels/loss/loss.h), shared by the CPU loops and the CUDA kernels
// so the two cannot drift. Constants are rounded to T once, as the composed losses round their scalars
// (mul_scalar / add_scalar / clamp cast their double argument to the tensor's dtype).
#pragma once
#include <cmath>

#include "kernels/common/half.h"   // SPK_HD
#include "kernels/loss/loss.h"

namespace spk {

using std::sqrt;

template <class T>
struct MarginConsts {
  T cos_m, sin_m, th, mm, m, s;   // cos m, sin m, cos(π − m), sin(π − m)·m, m, s
  bool angular, easy;
};

template <class T>
inline MarginConsts<T> margin_consts(const MarginCeArgs& a) {
  const double pi = 3.14159265358979323846;
  MarginConsts<T> k;
  k.cos_m = T(std::cos(a.margin));
  k.sin_m = T(std::sin(a.margin));
  k.th = T(std::cos(pi - a.margin));
  k.mm = T(std::sin(pi - a.margin) * a.margin);
  k.m = T(a.margin);
  k.s = T(a.scale);
  k.angular = a.angular;
  k.easy = a.easy_margin;
  return k;
}

// The target column's logit before the scale, φ'(t), and dφ'/dt in dphi.
//   AM:  t − m
//   AAM: φ = t·cos m − √clamp(1 − t², 0, 1)·sin m;  φ if t − cos(π − m) > 0 else t − sin(π − m)·m
//        (easy_margin: φ if t > 0 else t), losses/common.cpp's voxceleb_trainer rule.
// clamp's gradient is 1 on the closed interval [0, 1] (engine clamp). At |t| = 1 exactly (sin = 0) the
// composed chain rule divides by 0 and yields ±inf/NaN; here d sin/dt is taken as 0 there, so the fused
// gradient stays finite (an embedding exactly on its class direction).
template <class T>
SPK_HD T margin_target(const MarginConsts<T>& k, T t, T& dphi) {
  if (!k.angular) {
    dphi = T(1);
    return t - k.m;
  }
  const T u = T(1) - t * t;
  const bool inside = u >= T(0) && u <= T(1);
  const T sine = sqrt(inside ? u : (u < T(0) ? T(0) : T(1)));
  const T phi = t * k.cos_m - sine * k.sin_m;
  const bool use_phi = k.easy ? (t > T(0)) : (t - k.th > T(0));
  if (use_phi) {
    const T dsine = (inside && sine > T(0)) ? -t / sine : T(0);
    dphi = k.cos_m - k.sin_m * dsine;
    return phi;
  }
  dphi = T(1);
  return k.easy ? t : t - k.mm;
}

// 1 / max(‖v‖, eps) and the projection coefficient 1/‖v‖² (0 where the norm is clamped: the clamp's
// gradient is 0 below eps², 1 from eps² up, as l2_normalize's clamp) from the squared norm sq.
template <class T>
SPK_HD void inv_norm(T sq, T eps2, T& rn, T& pc) {
  const T m = sq >= eps2 ? sq : eps2;
  rn = T(1.0 / sqrt(double(m)));
  pc = sq >= eps2 ? rn * rn : T(0);
}

// similarity_ce's cosine denominator for squared norms na2, nb2 and eps2 = T(eps²):
//   product: √max(na2·nb2, eps²)   (cosine_matrix)      per_row: √max(na2, eps²)·√max(nb2, eps²) (l2_normalize)
// and whether the norm of a (mask_a) / of b (mask_b) carries gradient (its clamp is inactive).
template <class T>
SPK_HD T sim_den(bool product, T eps2, T na2, T nb2, bool& mask_a, bool& mask_b) {
  if (product) {
    const T p = na2 * nb2;
    mask_a = mask_b = p >= eps2;
    return sqrt(p >= eps2 ? p : eps2);
  }
  mask_a = na2 >= eps2;
  mask_b = nb2 >= eps2;
  return sqrt(mask_a ? na2 : eps2) * sqrt(mask_b ? nb2 : eps2);
}

}  // namespace spk
