// The direct CUDA conv kernels' per-element bodies (kernels/conv/conv_cuda.cu), host- and device-callable so that
// tests/kernels/test_conv_cuda_host.cpp runs them on the CPU too. Plain fp32 FMAs in a fixed order, 64-bit
// indices: the slow, obviously-right path (tiny convs, GPUs without TF32 tensor cores, a second opinion in tests).
#pragma once
#include <cstdint>

#include "kernels/conv/conv_cuda_igemm.h"   // Geom, SPK_HD

namespace spk::conv_direct {

using conv_igemm::Geom;

// y[i], i = ((img·C_out + co)·H_out + oh)·W_out + ow: Σ_{ci, kh, kw} x · w, plus bias[co].
SPK_HD float forward_at(const Geom& g, const float* x, const float* w, const float* bias, int64_t i) {
  const int64_t ow = i % g.W_out, oh = (i / g.W_out) % g.H_out, co = (i / g.P) % g.C_out;
  const int64_t img = i / (int64_t(g.P) * g.C_out), grp = co / g.Cog;
  float acc = 0.f;
  for (int64_t ci = 0; ci < g.Cig; ++ci)
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t iw = ow * g.sw - g.pw + kw * g.dw;
        if (iw < 0 || iw >= g.W) continue;
        acc += x[((img * g.C_in + grp * g.Cig + ci) * g.H + ih) * g.W + iw] * w[((co * g.Cig + ci) * g.KH + kh) * g.KW + kw];
      }
    }
  return bias ? acc + bias[co] : acc;
}

// dx[i], i = ((img·C_in + ci)·H + ih)·W + iw: Σ over the (co, kh, kw) whose output position (oh, ow) reads this
// pixel (oh·sh − ph + kh·dh = ih, likewise w) of dy · w.
SPK_HD float backward_data_at(const Geom& g, const float* w, const float* dy, int64_t i) {
  const int64_t iw = i % g.W, ih = (i / g.W) % g.H, ci = (i / g.HW) % g.C_in, img = i / (int64_t(g.HW) * g.C_in);
  const int64_t grp = ci / g.Cig, cg = ci - grp * g.Cig;
  float acc = 0.f;
  for (int64_t co = grp * g.Cog; co < (grp + 1) * g.Cog; ++co)
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t a = ih + g.ph - kh * g.dh;
      if (a < 0 || a % g.sh != 0 || a / g.sh >= g.H_out) continue;
      const int64_t oh = a / g.sh;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t b = iw + g.pw - kw * g.dw;
        if (b < 0 || b % g.sw != 0 || b / g.sw >= g.W_out) continue;
        const int64_t ow = b / g.sw;
        acc += dy[((img * g.C_out + co) * g.H_out + oh) * g.W_out + ow] * w[((co * g.Cig + cg) * g.KH + kh) * g.KW + kw];
      }
    }
  return acc;
}

// Lane `lane`'s share (positions q ≡ lane mod 32) of dw[i], i = ((co·C_in/g + cg)·KH + kh)·KW + kw:
// Σ_{img, oh, ow} dy · x. The kernel sums the 32 shares with a shuffle-down tree.
SPK_HD float backward_weight_lane(const Geom& g, const float* x, const float* dy, int64_t i, int lane) {
  const int64_t co = i / g.Kg, t = i - co * g.Kg, cg = t / g.KHKW, rs = t - cg * g.KHKW, kh = rs / g.KW,
                kw = rs - kh * g.KW, ci = (co / g.Cog) * g.Cig + cg, NP = int64_t(g.N) * g.P;
  float acc = 0.f;
  for (int64_t q = lane; q < NP; q += 32) {
    const int64_t img = q / g.P, p = q - img * g.P, oh = p / g.W_out, ow = p - oh * g.W_out;
    const int64_t ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
    acc += dy[(img * g.C_out + co) * g.P + p] * x[((img * g.C_in + ci) * g.H + ih) * g.W + iw];
  }
  return acc;
}

}  // namespace spk::conv_direct
