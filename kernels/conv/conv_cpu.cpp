// CPU convolution: im2col + OpenBLAS GEMM, chunked over output positions, threaded on a small work pool. The
// entry points hand f32 passes to oneDNN instead when the options pick the dnnl backend (use_dnnl below).
//
// Per image n and group g the forward is one GEMM
//   y_ng (C_out_g, P) = w_g (C_out_g, K_g) · col (K_g, P),      P = H_out·W_out, K_g = C_in_g·KH·KW,
// where row (c, kh, kw) of col holds, for every output position, the input pixel that tap sees (0 in the
// padding); the row order matches the weight layout, so w_g is used in place. The backward is two GEMMs
// over the same columns:
//   dw_g (C_out_g, K_g) += dy_ng · colᵀ          dcol (K_g, P) = w_gᵀ · dy_ng, then col2im adds it into dx.
// col is rebuilt in the backward rather than kept from the forward (it is KH·KW times the input).
// A 1×1, stride-1, unpadded conv needs no col: the input (C_in_g, P) already is one.
//
// Chunks: the P columns of an image are cut into runs of about col_chunk_bytes of col, so im2col writes a chunk
// and the GEMM's packing reads it back while it is still in this core's L2, and the buffer stays bounded
// for long utterances (N = 1, W in the thousands).
//
// Threads: (image, chunk) units are handed out dynamically to the threads of work_pool.h (opt.threads of
// them, the engine's cpu_threads()), each with its own col buffer, while OpenBLAS is held to one thread. Measured
// on the 2-core dev box (bench/README.md): splitting images between cores beats letting OpenBLAS split
// each small GEMM (its per-call sync and the then serial im2col/col2im cost more), and sleeping workers
// beat OpenMP's spinning ones on a shared machine. The backward splits blocks of images, not chunks
// (chunks of one image overlap in dx), each block with its own dw partial; with fewer images than
// threads it runs serially and lets OpenBLAS thread.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/common/check.h"
#include "kernels/common/half.h"
#include "kernels/common/work_pool.h"
#include "kernels/conv/conv.h"
#include "kernels/gemm/gemm.h"

namespace spk {

namespace {

constexpr double kParallelFlops = 4e6;   // below this a conv runs on one thread (waking the pool ~ 10 us)
constexpr int64_t kPartialBytes = int64_t(16) << 20;   // cap on the backward's per-block dw partials

// Per-thread scratch that only grows: a fresh multi-MB allocation per call would page-fault every time.
// Tag 0 holds im2col columns, tag 1 the dw partials of the calling thread. Thread-local memory, not shared
// state: it carries nothing from one call to the next but its capacity, and a caller-owned buffer would need
// one per pool worker, which parallel_units does not name.
template <class T, int Tag = 0> T* scratch(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

int64_t chunk_cols(const ConvGeom& g, const ConvCpuOptions& opt, size_t elem) {
  const int64_t P = g.H_out() * g.W_out();
  const int64_t target = opt.col_chunk_bytes / (g.K_g() * int64_t(elem));
  return std::min(std::max<int64_t>(target, 64), std::max<int64_t>(P, 1));
}

bool is_pointwise(const ConvGeom& g) {
  return g.KH == 1 && g.KW == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0;
}

// Output columns [ow_lo, ow_hi) of one kernel tap whose input column ow·stride + off lies inside [0, W).
struct TapRange { int64_t lo, hi; };
TapRange tap_range(int64_t W, int64_t W_out, int64_t stride, int64_t off) {
  int64_t lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int64_t hi = W - off <= 0 ? 0 : std::min(W_out, (W - off - 1) / stride + 1);
  return {lo, std::max(lo, hi)};
}

// col (K_g, p1 − p0) ← the taps of channels [0, C_in_g) of xg (C_in_g, H, W) for output positions [p0, p1).
template <class T>
void im2col(const ConvGeom& g, const T* xg, int64_t p0, int64_t p1, T* col) {
  const int64_t W_out = g.W_out(), cp = p1 - p0;
  const int64_t oh_first = p0 / W_out, oh_last = (p1 - 1) / W_out;
  T* row = col;
  for (int64_t c = 0; c < g.C_in_g(); ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw, row += cp) {
        const int64_t off_w = kw * g.dil_w - g.pad_w;
        const TapRange r = tap_range(g.W, W_out, g.stride_w, off_w);
        T* out = row - p0;   // out[oh·W_out + ow] is this row's entry for output (oh, ow)
        for (int64_t oh = oh_first; oh <= oh_last; ++oh) {
          const int64_t lo = oh == oh_first ? p0 - oh * W_out : 0;
          const int64_t hi = oh == oh_last ? p1 - oh * W_out : W_out;
          T* o = out + oh * W_out;
          const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dil_h;
          if (ih < 0 || ih >= g.H) {
            std::fill(o + lo, o + hi, T(0));
            continue;
          }
          const T* xr = xg + (c * g.H + ih) * g.W + off_w;   // xr[ow·stride] is the input for output ow
          // [a, b) is the in-image part of [lo, hi); a chunk may end inside the left padding (hi < r.lo).
          const int64_t a = std::min(hi, std::max(lo, r.lo)), b = std::max(a, std::min(hi, r.hi));
          std::fill(o + lo, o + a, T(0));
          if (g.stride_w == 1) std::memcpy(o + a, xr + a, size_t(b - a) * sizeof(T));
          else for (int64_t ow = a; ow < b; ++ow) o[ow] = xr[ow * g.stride_w];
          std::fill(o + b, o + hi, T(0));
        }
      }
}

// dxg (C_in_g, H, W) += the column gradients dcol (K_g, p1 − p0) scattered back onto the pixels they read.
template <class T>
void col2im_add(const ConvGeom& g, const T* dcol, int64_t p0, int64_t p1, T* dxg) {
  const int64_t W_out = g.W_out(), cp = p1 - p0;
  const int64_t oh_first = p0 / W_out, oh_last = (p1 - 1) / W_out;
  const T* row = dcol;
  for (int64_t c = 0; c < g.C_in_g(); ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw, row += cp) {
        const int64_t off_w = kw * g.dil_w - g.pad_w;
        const TapRange r = tap_range(g.W, W_out, g.stride_w, off_w);
        const T* in = row - p0;
        for (int64_t oh = oh_first; oh <= oh_last; ++oh) {
          const int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dil_h;
          if (ih < 0 || ih >= g.H) continue;
          const int64_t lo = oh == oh_first ? p0 - oh * W_out : 0;
          const int64_t hi = oh == oh_last ? p1 - oh * W_out : W_out;
          const int64_t a = std::min(hi, std::max(lo, r.lo)), b = std::max(a, std::min(hi, r.hi));
          const T* i = in + oh * W_out;
          T* xr = dxg + (c * g.H + ih) * g.W + off_w;
          if (g.stride_w == 1) for (int64_t ow = a; ow < b; ++ow) xr[ow] += i[ow];
          else for (int64_t ow = a; ow < b; ++ow) xr[ow * g.stride_w] += i[ow];
        }
      }
}

GemmArgs gemm_args(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc,
                   double beta) {
  GemmArgs a;
  a.trans_a = ta; a.trans_b = tb; a.M = M; a.N = N; a.K = K; a.lda = lda; a.ldb = ldb; a.ldc = ldc; a.beta = beta;
  return a;
}

// Forward of output positions [p0, p1) of image n, all groups.
template <class T>
void forward_unit(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, int64_t n, int64_t p0, int64_t p1,
                  T* col) {
  const int64_t P = g.H_out() * g.W_out(), HW = g.H * g.W, cp = p1 - p0;
  const int64_t Cig = g.C_in_g(), Cog = g.C_out_g(), Kg = g.K_g();
  const bool direct = is_pointwise(g);
  for (int64_t gr = 0; gr < g.groups; ++gr) {
    const T* xg = x + (n * g.C_in + gr * Cig) * HW;
    T* yg = y + (n * g.C_out + gr * Cog) * P + p0;
    const T* B = direct ? xg + p0 : col;
    if (!direct) im2col(g, xg, p0, p1, col);
    gemm_cpu<T>(gemm_args(false, false, Cog, cp, Kg, Kg, direct ? P : cp, P, 0), w + gr * Cog * Kg, B, yg);
    if (bias)
      for (int64_t co = 0; co < Cog; ++co) {
        const T b = bias[gr * Cog + co];
        for (int64_t p = 0; p < cp; ++p) yg[co * P + p] += b;
      }
  }
}

// Backward of image n into dx_n (written) and dw_acc (accumulated, +=, or written when `first`); either
// may be null.
template <class T>
void backward_image(const ConvGeom& g, const T* x, const T* w, const T* dy, T* dx, T* dw_acc, bool first, int64_t n,
                    int64_t step, T* col) {
  const int64_t P = g.H_out() * g.W_out(), HW = g.H * g.W;
  const int64_t Cig = g.C_in_g(), Cog = g.C_out_g(), Kg = g.K_g();
  const bool direct = is_pointwise(g);
  if (dx && !direct) std::fill(dx + n * g.C_in * HW, dx + (n + 1) * g.C_in * HW, T(0));
  for (int64_t p0 = 0; p0 < P; p0 += step) {
    const int64_t p1 = std::min(P, p0 + step), cp = p1 - p0;
    for (int64_t gr = 0; gr < g.groups; ++gr) {
      const T* dyg = dy + (n * g.C_out + gr * Cog) * P + p0;
      // x is null when dw is not wanted, w when dx is not: offset them only when used.
      const T* wg = dx ? w + gr * Cog * Kg : nullptr;
      T* dxg = dx ? dx + (n * g.C_in + gr * Cig) * HW : nullptr;
      if (dw_acc) {
        const T* xg = x + (n * g.C_in + gr * Cig) * HW;
        const T* B = direct ? xg + p0 : col;
        if (!direct) im2col(g, xg, p0, p1, col);
        gemm_cpu<T>(gemm_args(false, true, Cog, Kg, cp, P, direct ? P : cp, Kg, first && p0 == 0 ? 0 : 1), dyg, B,
                    dw_acc + gr * Cog * Kg);
      }
      if (dxg && direct) {
        gemm_cpu<T>(gemm_args(true, false, Kg, cp, Cog, Kg, P, P, 0), wg, dyg, dxg + p0);
      } else if (dxg) {
        gemm_cpu<T>(gemm_args(true, false, Kg, cp, Cog, Kg, P, cp, 0), wg, dyg, col);
        col2im_add(g, col, p0, p1, dxg);
      }
    }
  }
}

// Whether this pass goes to oneDNN: f32 only (f64 is the reference the tests check against), only convs with
// work (oneDNN rejects empty shapes). `automatic` keeps on spk's kernels what they do faster (bench_conv.cpp,
// bench/README.md): 1×1 convs with under 1024 input channels per group, which are one GEMM here while oneDNN
// adds two layout reorders around a small kernel (ResNetSE34L's downsamples, ECAPA's 512-channel 1×1s: spk
// equal or faster), and the input gradient of convs with few input channels per group (the 7×7 stem,
// C_in = 1), where oneDNN's backward-data kernel is several times slower. ECAPA's wide 1×1s (1536 -> 1536,
// 4608 -> 128) are 1.4x faster on oneDNN.
template <class T> bool use_dnnl(const ConvGeom& g, const ConvCpuOptions& opt, bool input_grad) {
  if constexpr (!std::is_same_v<T, float>) return false;
  const ConvCpuBackend b = conv_cpu_resolved_backend(opt);
  if (b != ConvCpuBackend::dnnl) return false;
  SPK_CHECK(opt.dnnl != nullptr, "conv: the dnnl backend was chosen but no oneDNN state was given");
  if (g.N == 0 || g.C_out == 0 || g.H_out() <= 0 || g.W_out() <= 0) return false;
  if (opt.backend == ConvCpuBackend::dnnl) return true;
  if (opt.bf16 && bf16_dnnl_usable()) return true;   // bf16 kernels beat ours at every pass
  const bool small_pointwise = g.KH == 1 && g.KW == 1 && g.C_in_g() < 1024;
  return !small_pointwise && !(input_grad && g.C_in_g() < 4);
}

bool threaded(const ConvGeom& g, const ConvCpuOptions& opt, int64_t units) {
  return opt.threading == ConvThreading::units && opt.threads > 1 && units > 1 && g.flops() >= kParallelFlops;
}

}  // namespace

template <class T>
void conv2d_forward_cpu(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y, const ConvCpuOptions& opt) {
  const int64_t P = g.H_out() * g.W_out();
  if (g.N == 0 || P == 0 || g.C_out == 0) return;
  if (use_dnnl<T>(g, opt, false)) {
    if constexpr (std::is_same_v<T, float>) conv2d_forward_dnnl(g, x, w, bias, y, *opt.dnnl, opt.threads, opt.bf16);
    return;
  }
  const int64_t step = chunk_cols(g, opt, sizeof(T)), chunks = (P + step - 1) / step, units = g.N * chunks;
  const size_t col_elems = is_pointwise(g) ? 0 : size_t(g.K_g() * step);
  auto unit = [&](int64_t u, T* col) {
    const int64_t n = u / chunks, p0 = (u % chunks) * step;
    forward_unit(g, x, w, bias, y, n, p0, std::min(P, p0 + step), col);
  };
  if (threaded(g, opt, units)) {
    BlasSingleThread hold;
    parallel_units(units, opt.threads, [&](int64_t u) { unit(u, scratch<T>(col_elems)); });
  } else {
    T* col = scratch<T>(col_elems);
    for (int64_t u = 0; u < units; ++u) unit(u, col);
  }
}

template <class T>
void conv2d_backward_cpu(const ConvGeom& g, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                         const ConvCpuOptions& opt) {
  const int64_t P = g.H_out() * g.W_out(), wn = g.C_out * g.K_g();
  if (db) {
    // Σ over (n, p) per channel, in that order in double; four channels' chains side by side (the add's latency
    // bounded one chain), channel ranges split between threads: the same bits on any thread count.
    // Under autocast bf16 (opt.bf16) dy may come unrounded (oneDNN's bf16 kernels round their own copy): db is
    // summed from the rounded values, as the products are (rounding is idempotent where dy was rounded already).
    auto value = [&](int64_t k) -> double {
      if constexpr (std::is_same_v<T, float>)
        if (opt.bf16) return double(bf16_to_f32(f32_to_bf16(dy[k])));
      return double(dy[k]);
    };
    auto channels = [&](int64_t c0, int64_t c1) {
      for (int64_t cb = c0; cb < c1; cb += 4) {
        const int lanes = int(std::min<int64_t>(4, c1 - cb));
        double s[4] = {};
        for (int64_t n = 0; n < g.N; ++n)
          for (int64_t p = 0; p < P; ++p)
            for (int j = 0; j < lanes; ++j) s[j] += value((n * g.C_out + cb + j) * P + p);
        for (int j = 0; j < lanes; ++j) db[cb + j] = T(s[j]);
      }
    };
    const int64_t parts = std::min<int64_t>(opt.threads, g.C_out);
    if (parts <= 1 || g.N * g.C_out * P < (int64_t(1) << 15)) channels(0, g.C_out);
    else parallel_units(parts, opt.threads, [&](int64_t u) { channels(u * g.C_out / parts, (u + 1) * g.C_out / parts); });
  }
  if (!dx && !dw) return;
  if (g.N == 0 || P == 0) {
    if (dw) std::fill(dw, dw + wn, T(0));
    if (dx) std::fill(dx, dx + g.N * g.C_in * g.H * g.W, T(0));
    return;
  }
  // Each gradient goes to oneDNN or stays here on its own (use_dnnl); what oneDNN wrote is taken out.
  const bool dnnl_x = dx && use_dnnl<T>(g, opt, true), dnnl_w = dw && use_dnnl<T>(g, opt, false);
  if (dnnl_x || dnnl_w) {
    if constexpr (std::is_same_v<T, float>)
      conv2d_backward_dnnl(g, x, w, dy, dnnl_x ? dx : nullptr, dnnl_w ? dw : nullptr, *opt.dnnl, opt.threads,
                           opt.bf16);
    if (dnnl_x) dx = nullptr;
    if (dnnl_w) dw = nullptr;
    if (!dx && !dw) return;
  }
  const int64_t step = chunk_cols(g, opt, sizeof(T));
  const size_t col_elems = size_t(g.K_g() * step);
  if (threaded(g, opt, g.N)) {
    // Images go out in fixed blocks, a few per thread, handed out dynamically so that a thread whose core
    // is busy with another process does not hold the others back. Each block sums its own dw partial
    // (block 0 straight into dw) and the partials are added in block order: dw does not depend on which
    // thread ran which block. Partials are capped at kPartialBytes.
    const int threads = opt.threads;
    const int64_t by_memory = kPartialBytes / std::max<int64_t>(1, wn * int64_t(sizeof(T)));
    const int64_t blocks = std::min<int64_t>(g.N, std::max<int64_t>(threads, std::min<int64_t>(4 * threads, by_memory)));
    T* partial = dw ? scratch<T, 1>(size_t(wn) * size_t(blocks - 1)) : nullptr;
    BlasSingleThread hold;
    parallel_units(blocks, threads, [&](int64_t b) {
      T* col = scratch<T>(col_elems);
      T* acc = !dw ? nullptr : b == 0 ? dw : partial + size_t(b - 1) * size_t(wn);
      const int64_t n0 = b * g.N / blocks, n1 = (b + 1) * g.N / blocks;
      for (int64_t n = n0; n < n1; ++n) backward_image(g, x, w, dy, dx, acc, n == n0, n, step, col);
    });
    for (int64_t b = 1; b < blocks && dw; ++b) {
      const T* p = partial + size_t(b - 1) * size_t(wn);
      for (int64_t i = 0; i < wn; ++i) dw[i] += p[i];
    }
  } else {
    T* col = scratch<T>(col_elems);
    for (int64_t n = 0; n < g.N; ++n) backward_image(g, x, w, dy, dx, dw, n == 0, n, step, col);
  }
}

#define SPK_INSTANTIATE(T)                                                                                  \
  template void conv2d_forward_cpu<T>(const ConvGeom&, const T*, const T*, const T*, T*, const ConvCpuOptions&); \
  template void conv2d_backward_cpu<T>(const ConvGeom&, const T*, const T*, const T*, T*, T*, T*,             \
                                       const ConvCpuOptions&);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)
#undef SPK_INSTANTIATE

}  // namespace spk
