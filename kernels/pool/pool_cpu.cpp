// CPU pooling: plain loops over each (H, W) plane, the planes split across the kernels' work pool on `threads`
// threads (not OpenMP: its spinning threads would hold the core the next conv wants). Pools are memory-bound and
// small next to the convs around them, so the loops stay the readable spec.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/common/work_pool.h"
#include "kernels/pool/pool.h"

namespace spk {

namespace {

constexpr int64_t kParallelElems = 1 << 15;   // below this a pool runs on one thread

// fn(plane) for every (n, c) plane; split into a few blocks per thread on the kernels' sleeping work pool
// (kernels/common/work_pool.h) when `work` (elements touched) is worth it.
template <class F>
void for_planes(int64_t planes, int64_t work, int threads, F&& fn) {
  if (threads <= 1 || planes <= 1 || work < kParallelElems) {
    for (int64_t pl = 0; pl < planes; ++pl) fn(pl);
    return;
  }
  const int64_t blocks = std::min<int64_t>(planes, 4 * threads);
  parallel_units(blocks, threads, [&](int64_t b) {
    for (int64_t pl = b * planes / blocks; pl < (b + 1) * planes / blocks; ++pl) fn(pl);
  });
}

// Bin [start, end) of output i when n inputs are pooled adaptively into `out` bins (PyTorch's rule).
inline int64_t bin_start(int64_t i, int64_t n, int64_t out) { return (i * n) / out; }
inline int64_t bin_end(int64_t i, int64_t n, int64_t out) { return ((i + 1) * n + out - 1) / out; }

}  // namespace

// One (H, W) plane of max_pool2d_forward_cpu. Taps outer, output columns inner: each output row is a
// running max over the window's taps, taken in row-major window order so ties keep the first. The inner
// loop selects instead of branching: on real data the comparison is a coin flip that the branch
// predictor keeps losing (3x slower with branches). Geometry comes by value, so the compiler may keep it
// in registers across the int64 index stores (through a reference it must reload it after each one).
template <class T>
void max_pool_plane(const PoolGeom g, const int64_t* lo, const int64_t* hi, const T* xp, T* yp, int64_t* ip) {
  using Bits = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  const int64_t H = g.H, W = g.W, Ho = g.H_out(), Wo = g.W_out(), sh = g.stride_h, sw = g.stride_w;
  const int64_t KH = g.KH, KW = g.KW, ph = g.pad_h, pw = g.pad_w;
  for (int64_t oh = 0; oh < Ho; ++oh) {
    T* yr = yp + oh * Wo;
    int64_t* ir = ip + oh * Wo;
    const int64_t h0 = oh * sh - ph;
    for (int64_t ow = 0; ow < Wo; ++ow) {   // PyTorch's index when every tap is -inf: the window's first pixel
      yr[ow] = -std::numeric_limits<T>::infinity();
      ir[ow] = std::max<int64_t>(h0, 0) * W + std::max<int64_t>(ow * sw - pw, 0);
    }
    for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h0 + KH, H); ++h)
      for (int64_t kw = 0; kw < KW; ++kw) {
        const int64_t base = h * W + kw - pw;   // input column of output ow is base + ow·sw
        const T* xr = xp + base;
        const int64_t a = lo[kw], b = hi[kw];
        for (int64_t ow = a; ow < b; ++ow) {
          const T v = xr[ow * sw], cur = yr[ow];
          const bool take = (v > cur) | (v != v);   // as PyTorch: a NaN wins and propagates
          // Bit masks, because GCC turns a ternary here back into a branch.
          const Bits m = Bits(0) - Bits(take);
          yr[ow] = std::bit_cast<T>(Bits((std::bit_cast<Bits>(v) & m) | (std::bit_cast<Bits>(cur) & ~m)));
          ir[ow] = ((base + ow * sw) & int64_t(m)) | (ir[ow] & ~int64_t(m));
        }
      }
  }
}

template <class T>
void max_pool2d_forward_cpu(const PoolGeom& g, const T* x, T* y, int64_t* idx, int threads) {
  const int64_t W = g.W, Wo = g.W_out(), sw = g.stride_w, planes = g.N * g.C;
  const int64_t in_plane = g.H * g.W, out_plane = g.H_out() * Wo;
  // Output columns [lo, hi) whose tap kw lands inside [0, W): the same for every row and plane.
  std::vector<int64_t> lo(size_t(g.KW)), hi(size_t(g.KW));
  for (int64_t kw = 0; kw < g.KW; ++kw) {
    const int64_t off = kw - g.pad_w;
    lo[size_t(kw)] = off >= 0 ? 0 : (-off + sw - 1) / sw;
    hi[size_t(kw)] = std::max(lo[size_t(kw)], std::min(Wo, W - off <= 0 ? 0 : (W - off - 1) / sw + 1));
  }
  for_planes(planes, planes * out_plane * g.KH * g.KW, threads, [&](int64_t pl) {
    max_pool_plane<T>(g, lo.data(), hi.data(), x + pl * in_plane, y + pl * out_plane, idx + pl * out_plane);
  });
}

template <class T>
void max_pool2d_backward_cpu(const PoolGeom& g, const T* dy, const int64_t* idx, T* dx, int threads) {
  const int64_t P = g.H_out() * g.W_out(), HW = g.H * g.W, planes = g.N * g.C;
  for_planes(planes, planes * HW, threads, [&](int64_t pl) {
    T* d = dx + pl * HW;
    std::fill(d, d + HW, T(0));
    for (int64_t p = 0; p < P; ++p) d[idx[pl * P + p]] += dy[pl * P + p];
  });
}

template <class T>
void avg_pool2d_forward_cpu(const PoolGeom& g, const T* x, T* y, int threads) {
  const int64_t Ho = g.H_out(), Wo = g.W_out(), planes = g.N * g.C;
  const double inv = 1.0 / double(g.KH * g.KW);
  for_planes(planes, planes * Ho * Wo * g.KH * g.KW, threads, [&](int64_t pl) {
    const T* xp = x + pl * g.H * g.W;
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
        double s = 0;
        for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h0 + g.KH, g.H); ++h)
          for (int64_t w = std::max<int64_t>(w0, 0); w < std::min(w0 + g.KW, g.W); ++w) s += double(xp[h * g.W + w]);
        y[(pl * Ho + oh) * Wo + ow] = T(s * inv);
      }
  });
}

template <class T>
void avg_pool2d_backward_cpu(const PoolGeom& g, const T* dy, T* dx, int threads) {
  const int64_t Ho = g.H_out(), Wo = g.W_out(), HW = g.H * g.W, planes = g.N * g.C;
  const T inv = T(1.0 / double(g.KH * g.KW));
  for_planes(planes, planes * HW, threads, [&](int64_t pl) {
    T* d = dx + pl * HW;
    std::fill(d, d + HW, T(0));
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
        const T v = dy[(pl * Ho + oh) * Wo + ow] * inv;
        for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h0 + g.KH, g.H); ++h)
          for (int64_t w = std::max<int64_t>(w0, 0); w < std::min(w0 + g.KW, g.W); ++w) d[h * g.W + w] += v;
      }
  });
}

template <class T>
void adaptive_avg_pool2d_forward_cpu(const T* x, T* y, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH,
                                     int64_t OW, int threads) {
  const int64_t planes = N * C;
  for_planes(planes, planes * H * W, threads, [&](int64_t pl) {
    const T* xp = x + pl * H * W;
    for (int64_t i = 0; i < OH; ++i) {
      const int64_t h0 = bin_start(i, H, OH), h1 = bin_end(i, H, OH);
      for (int64_t j = 0; j < OW; ++j) {
        const int64_t w0 = bin_start(j, W, OW), w1 = bin_end(j, W, OW);
        double s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += double(xp[h * W + w]);
        y[(pl * OH + i) * OW + j] = T(s / double((h1 - h0) * (w1 - w0)));
      }
    }
  });
}

template <class T>
void adaptive_avg_pool2d_backward_cpu(const T* dy, T* dx, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH,
                                      int64_t OW, int threads) {
  const int64_t planes = N * C;
  for_planes(planes, planes * H * W, threads, [&](int64_t pl) {
    T* d = dx + pl * H * W;
    std::fill(d, d + H * W, T(0));
    for (int64_t i = 0; i < OH; ++i) {
      const int64_t h0 = bin_start(i, H, OH), h1 = bin_end(i, H, OH);
      for (int64_t j = 0; j < OW; ++j) {
        const int64_t w0 = bin_start(j, W, OW), w1 = bin_end(j, W, OW);
        const T v = T(double(dy[(pl * OH + i) * OW + j]) / double((h1 - h0) * (w1 - w0)));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) d[h * W + w] += v;
      }
    }
  });
}

#define SPK_INSTANTIATE(T)                                                                                     \
  template void max_pool2d_forward_cpu<T>(const PoolGeom&, const T*, T*, int64_t*, int);                      \
  template void max_pool2d_backward_cpu<T>(const PoolGeom&, const T*, const int64_t*, T*, int);               \
  template void avg_pool2d_forward_cpu<T>(const PoolGeom&, const T*, T*, int);                                \
  template void avg_pool2d_backward_cpu<T>(const PoolGeom&, const T*, T*, int);                               \
  template void adaptive_avg_pool2d_forward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, int64_t, \
                                                   int64_t, int);                                             \
  template void adaptive_avg_pool2d_backward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, int64_t,\
                                                    int64_t, int);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)
#undef SPK_INSTANTIATE

}  // namespace spk
