// The per-element updates of kernels/optim/optim.h, shared by the CPU loop and the CUDA kernel.
//
// Each line mirrors one engine op of the reference path (engine/optim.cpp): x * s is mul_scalar (the scalar
// cast to T first, as the elementwise kernels do), x / s is mul_scalar by 1/s (ops.h's operator/), a ± b and
// a / b the binary ops. On a GPU the _rn intrinsics keep nvcc from contracting a*b + c into an FMA, which the
// separate ops never do; on the CPU the file is compiled without contraction (see optim_cpu.cpp).
#pragma once
#include <cmath>

#include "kernels/common/half.h"   // SPK_HD
#include "kernels/optim/optim.h"

namespace spk::optim_math {

#if defined(__CUDA_ARCH__)
SPK_HD float mul(float a, float b) { return __fmul_rn(a, b); }
SPK_HD float add(float a, float b) { return __fadd_rn(a, b); }
SPK_HD float sub(float a, float b) { return __fsub_rn(a, b); }
SPK_HD float div(float a, float b) { return __fdiv_rn(a, b); }
SPK_HD float sqrt_(float a) { return __fsqrt_rn(a); }
#else
template <class T> SPK_HD T mul(T a, T b) { return a * b; }
template <class T> SPK_HD T add(T a, T b) { return a + b; }
template <class T> SPK_HD T sub(T a, T b) { return a - b; }
template <class T> SPK_HD T div(T a, T b) { return a / b; }
template <class T> SPK_HD T sqrt_(T a) { return std::sqrt(a); }
#endif

// torch.optim.SGD on element i of slot s.
template <class T> SPK_HD void sgd_element(const OptimSlot<T>& s, int64_t i, const SgdArgs& a) {
  const T p = s.p[i];
  T d = s.g[i];
  if (a.weight_decay != 0) d = add(d, mul(p, T(a.weight_decay)));
  if (a.momentum != 0) {
    const T buf = s.first ? d : add(mul(s.b0[i], T(a.momentum)), mul(d, T(a.one_minus_dampening)));
    s.b0[i] = buf;
    d = a.nesterov ? add(d, mul(buf, T(a.momentum))) : buf;
  }
  s.p[i] = sub(p, mul(d, T(a.lr)));
}

// torch.optim.Adam / AdamW on element i of slot s.
template <class T> SPK_HD void adam_element(const OptimSlot<T>& s, int64_t i, const AdamArgs& a) {
  T p = s.p[i];
  if (a.decoupled) p = mul(p, T(a.decay));   // AdamW's decoupled decay, written back by the reference too
  T g = s.g[i];
  if (a.l2 != 0) g = add(g, mul(p, T(a.l2)));
  const T m = add(mul(s.b0[i], T(a.beta1)), mul(g, T(a.one_minus_beta1)));
  const T v = add(mul(s.b1[i], T(a.beta2)), mul(mul(g, g), T(a.one_minus_beta2)));
  s.b0[i] = m;
  s.b1[i] = v;
  const T denom = add(mul(sqrt_(v), T(s.inv_bc2_sqrt)), T(a.eps));
  s.p[i] = sub(p, mul(div(m, denom), T(s.step_size)));
}

}  // namespace spk::optim_math
