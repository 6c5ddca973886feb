// Pooling kernels, PyTorch semantics (ceil_mode=False, dilation 1), on dense (N, C, H, W) buffers; the 1-d
// pools are the 2-d ones with H = KH = 1 (pool1d_geom).
//
//   max_pool2d:  y = max over the window, padding counts as −inf; idx records the argmax as h·W + w within
//                the (H, W) plane (first maximum in row-major window order; a NaN wins, as in PyTorch).
//                backward: dx = 0, then dx[idx] += dy (overlapping windows may pick the same pixel).
//   avg_pool2d:  y = window sum / (KH·KW) — count_include_pad=True, and with ceil_mode=False every window
//                lies inside the padded input, so the divisor is always KH·KW.
//                backward: each dy spreads dy / (KH·KW) over the window's in-bounds pixels.
//   adaptive_avg_pool2d: output (OH, OW); bin i covers rows [floor(i·H/OH), ceil((i+1)·H/OH)), likewise
//                columns; y = mean over the bin. backward spreads dy / bin size.
// H_out = floor((H + 2·pad_h − KH) / stride_h) + 1, likewise W_out.
// Backward kernels write (=) dx. CPU kernels thread over the N·C planes on `threads` threads of the work pool
// (kernels/common/work_pool.h; the engine passes cpu_threads()).
#pragma once
#include <cstdint>

namespace spk {

struct PoolGeom {
  int64_t N = 1, C = 1, H = 1, W = 1;   // input (N, C, H, W)
  int64_t KH = 1, KW = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;

  int64_t H_out() const { return (H + 2 * pad_h - KH) / stride_h + 1; }
  int64_t W_out() const { return (W + 2 * pad_w - KW) / stride_w + 1; }
};

// A 1-d pool over (N, C, L) as a 2-d one over (N, C, 1, L) with a (1, K) window.
inline PoolGeom pool1d_geom(int64_t N, int64_t C, int64_t L, int64_t kernel, int64_t stride, int64_t padding) {
  PoolGeom g;
  g.N = N; g.C = C; g.H = 1; g.W = L; g.KW = kernel; g.stride_w = stride; g.pad_w = padding;
  return g;
}

template <class T> void max_pool2d_forward_cpu(const PoolGeom& g, const T* x, T* y, int64_t* idx, int threads);
template <class T> void max_pool2d_backward_cpu(const PoolGeom& g, const T* dy, const int64_t* idx, T* dx,
                                                int threads);
template <class T> void avg_pool2d_forward_cpu(const PoolGeom& g, const T* x, T* y, int threads);
template <class T> void avg_pool2d_backward_cpu(const PoolGeom& g, const T* dy, T* dx, int threads);
// x (N, C, H, W) -> y (N, C, OH, OW)
template <class T> void adaptive_avg_pool2d_forward_cpu(const T* x, T* y, int64_t N, int64_t C, int64_t H, int64_t W,
                                                        int64_t OH, int64_t OW, int threads);
template <class T> void adaptive_avg_pool2d_backward_cpu(const T* dy, T* dx, int64_t N, int64_t C, int64_t H,
                                                         int64_t W, int64_t OH, int64_t OW, int threads);

// CUDA (f32, on the given stream; kernels/pool/pool_cuda.cu): the same arithmetic in the same order as the
// CPU kernels, so outputs, argmax indices and gradients equal the CPU's bit for bit. Backward kernels
// gather per input element (no atomics, deterministic) and write every element of dx.
void max_pool2d_forward_cuda(const PoolGeom& g, const float* x, float* y, int64_t* idx, void* stream);
void max_pool2d_backward_cuda(const PoolGeom& g, const float* dy, const int64_t* idx, float* dx, void* stream);
void avg_pool2d_forward_cuda(const PoolGeom& g, const float* x, float* y, void* stream);
void avg_pool2d_backward_cuda(const PoolGeom& g, const float* dy, float* dx, void* stream);
void adaptive_avg_pool2d_forward_cuda(const float* x, float* y, int64_t N, int64_t C, int64_t H, int64_t W,
                                      int64_t OH, int64_t OW, void* stream);
void adaptive_avg_pool2d_backward_cuda(const float* dy, float* dx, int64_t N, int64_t C, int64_t H, int64_t W,
                                       int64_t OH, int64_t OW, void* stream);

}  // namespace spk
