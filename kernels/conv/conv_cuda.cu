// CUDA convolution (kernels/conv/conv.h), f32 in and out, on the caller's stream.
//
// The "spk" backend:
//   igemm   forward, backward-data and backward-weight as implicit GEMMs on TF32 tensor cores (nvcuda::wmma
//           m16n16k8, f32 accumulate). The index maps, tile maps and launch plan live in conv_cuda_igemm.h,
//           where tests/kernels/test_conv_cuda_host.cpp runs them on the CPU; this file adds the wmma main loop.
//   direct  one thread per output element (a warp per weight for backward-weight), plain fp32 FMAs: the
//           fallback for convs too small to fill the GPU, and an obviously-right second opinion in the tests.
// bias: added in the forward's epilogue; its gradient is a per-channel reduction (a block per channel, double
// partials, fixed-order tree: deterministic).
// backward_weight is split over K (the batch's output positions) into partial products in a workspace that
// a second kernel sums in split order, so dw is deterministic and written (=), never accumulated.
// The "cudnn" backend (conv_cudnn_cuda.cpp) is dispatched from here when ctx.options selects it. Workspace,
// device facts and cuDNN state come in the ConvCudaContext (the engine's): this file keeps no state.
//
// Never run on a GPU when written (no GPU on the development machine): see docs/cuda/conv.md for what was
// checked without one.
#include <cuda_runtime.h>
#include <mma.h>

#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/conv/conv_cuda_direct.h"
#include "kernels/conv/conv_cuda_igemm.h"
#include "kernels/conv/conv_cuda_internal.h"

namespace spk {

namespace {

using namespace conv_igemm;
using cuda_launch::blocks_for;
using cuda_launch::kThreads;

// ---------------------------------------------------------------------------------------------- igemm

// One BM × BN tile of C per block (see conv_cuda_igemm.h for the maps). Shared memory: two A and two B
// slices (double buffer) and one 16 × 16 staging square per warp for the epilogue, 45 KB for CfgLarge.
template <class Cfg, class Prob>
__global__ void __launch_bounds__(Cfg::NT) igemm_kernel(Prob prob) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();   // TF32 wmma needs sm_80; the host never launches this on older GPUs (tensor_cores())
#else
  using namespace nvcuda;
  __shared__ __align__(128) float As[2][Cfg::BM * Cfg::LDA];
  __shared__ __align__(128) float Bs[2][Cfg::BK * Cfg::LDB];
  __shared__ __align__(128) float Cs[Cfg::NWARPS][256];

  Prob pr = prob;
  const int tid = int(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const BlockJob job = block_job<Cfg>(pr, int(blockIdx.x), int(blockIdx.y), int(blockIdx.z));
  pr.set_group(job.grp);
  int wm0, wn0;
  warp_origin<Cfg>(warp, wm0, wn0);

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[Cfg::FM][Cfg::FN];
#pragma unroll
  for (int fi = 0; fi < Cfg::FM; ++fi)
#pragma unroll
    for (int fj = 0; fj < Cfg::FN; ++fj) wmma::fill_fragment(acc[fi][fj], 0.f);

  float ra[Cfg::A_PER], rb[Cfg::B_PER];
  const int slices = (job.k_hi - job.k_lo + Cfg::BK - 1) / Cfg::BK;   // >= 1: the plan leaves no split empty
  load_slices<Cfg>(pr, job, tid, job.k_lo, ra, rb);
  store_slices<Cfg, Prob::kBFixK>(tid, ra, rb, As[0], Bs[0]);
  __syncthreads();

  // Slice s is multiplied from buffer s & 1 while slice s + 1 travels global -> registers -> the other
  // buffer. That buffer was last read in iteration s − 1, which every thread finished before the barrier
  // that ended it, so one barrier per slice suffices.
  for (int s = 0; s < slices; ++s) {
    const int cur = s & 1;
    const bool more = s + 1 < slices;
    if (more) load_slices<Cfg>(pr, job, tid, job.k_lo + (s + 1) * Cfg::BK, ra, rb);
#pragma unroll
    for (int kk = 0; kk < Cfg::BK; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a[Cfg::FM];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b[Cfg::FN];
#pragma unroll
      for (int fi = 0; fi < Cfg::FM; ++fi) {
        wmma::load_matrix_sync(a[fi], &As[cur][(wm0 + fi * 16) * Cfg::LDA + kk], Cfg::LDA);
#pragma unroll
        for (int e = 0; e < a[fi].num_elements; ++e) a[fi].x[e] = wmma::__float_to_tf32(a[fi].x[e]);
      }
#pragma unroll
      for (int fj = 0; fj < Cfg::FN; ++fj) {
        wmma::load_matrix_sync(b[fj], &Bs[cur][kk * Cfg::LDB + wn0 + fj * 16], Cfg::LDB);
#pragma unroll
        for (int e = 0; e < b[fj].num_elements; ++e) b[fj].x[e] = wmma::__float_to_tf32(b[fj].x[e]);
      }
#pragma unroll
      for (int fi = 0; fi < Cfg::FM; ++fi)
#pragma unroll
        for (int fj = 0; fj < Cfg::FN; ++fj) wmma::mma_sync(acc[fi][fj], a[fi], b[fj], acc[fi][fj]);
    }
    if (more) store_slices<Cfg, Prob::kBFixK>(tid, ra, rb, As[cur ^ 1], Bs[cur ^ 1]);
    __syncthreads();
  }

  // Epilogue: each fragment goes through the warp's staging square (the fragment layout is opaque) and out
  // through the problem's store, which bound-checks and adds the bias.
  float* frag = Cs[warp];
#pragma unroll
  for (int fi = 0; fi < Cfg::FM; ++fi)
#pragma unroll
    for (int fj = 0; fj < Cfg::FN; ++fj) {
      wmma::store_matrix_sync(frag, acc[fi][fj], 16, wmma::mem_row_major);
      __syncwarp();
      store_fragment<Cfg>(pr, job, warp, fi, fj, frag, lane);
      __syncwarp();   // every lane has read the square before the next fragment overwrites it
    }
#endif
}

template <class Prob>
void launch_igemm(const Plan& pl, const Prob& pr, cudaStream_t s) {
  const dim3 grid(unsigned(pl.grid_x), unsigned(pl.grid_y), unsigned(pl.grid_z));
  switch (pl.cfg) {
    case 0: igemm_kernel<CfgSmall, Prob><<<grid, CfgSmall::NT, 0, s>>>(pr); break;
    case 1: igemm_kernel<CfgMedium, Prob><<<grid, CfgMedium::NT, 0, s>>>(pr); break;
    default: igemm_kernel<CfgLarge, Prob><<<grid, CfgLarge::NT, 0, s>>>(pr); break;
  }
  SPK_KERNEL_LAUNCH_CHECK();
}

template <class Prob>
void bind(Prob& pr, const Plan& pl) {
  static_cast<GemmDims&>(pr) = pl.dims;
}

// dw[grp, i] = Σ_s ws[grp, s, i] in split order, i over the group's M·N weights.
__global__ void splitk_reduce_kernel(const float* __restrict__ ws, float* __restrict__ dw, int64_t groups,
                                     int64_t splits, int64_t MN) {
  const int64_t total = groups * MN;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t grp = i / MN, j = i - grp * MN;
    const float* p = ws + grp * splits * MN + j;
    float s = 0.f;
    for (int64_t sp = 0; sp < splits; ++sp) s += p[sp * MN];
    dw[i] = s;
  }
}

// ---------------------------------------------------------------------------------------------- bias grad

// db[co] = Σ_{img, p} dy[img, co, p]: a block per channel, double partials, fixed-order tree.
__global__ void bias_grad_kernel(const float* __restrict__ dy, float* __restrict__ db, int64_t N, int64_t C_out,
                                 int64_t P) {
  __shared__ double part[kThreads];
  const int64_t co = blockIdx.x;
  double s = 0;
  for (int64_t img = 0; img < N; ++img) {
    const float* d = dy + (img * C_out + co) * P;
    for (int64_t p = threadIdx.x; p < P; p += blockDim.x) s += double(d[p]);
  }
  part[threadIdx.x] = s;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) part[threadIdx.x] += part[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[co] = float(part[0]);
}

// ---------------------------------------------------------------------------------------------- direct

// One thread per output element (conv_cuda_direct.h has the per-element bodies).
__global__ void direct_forward_kernel(Geom g, const float* __restrict__ x, const float* __restrict__ w,
                                      const float* __restrict__ bias, float* __restrict__ y) {
  const int64_t total = int64_t(g.N) * g.C_out * g.P;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = conv_direct::forward_at(g, x, w, bias, i);
}

__global__ void direct_backward_data_kernel(Geom g, const float* __restrict__ w, const float* __restrict__ dy,
                                            float* __restrict__ dx) {
  const int64_t total = int64_t(g.N) * g.C_in * g.HW;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = conv_direct::backward_data_at(g, w, dy, i);
}

// A warp per weight, lanes over positions, a fixed-order shuffle-down sum (lane 0 ends with
// Σ_l share_l in the tree order tests/kernels/test_conv_cuda_host.cpp replays).
__global__ void direct_backward_weight_kernel(Geom g, const float* __restrict__ x, const float* __restrict__ dy,
                                              float* __restrict__ dw) {
  const int64_t total = int64_t(g.C_out) * g.Kg;
  const int lane = int(threadIdx.x) % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  // i is the same for the 32 lanes of a warp, so the loop (and the full-mask shuffles) stay warp-uniform.
  for (int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; i < total; i += warps) {
    float acc = conv_direct::backward_weight_lane(g, x, dy, i, lane);
#pragma unroll
    for (int off = 16; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
    if (lane == 0) dw[i] = acc;
  }
}

bool run_direct(const ConvGeom& g, const ConvCudaContext& ctx) {
  return use_direct(g, ctx.options.algo) || !ctx.device.tensor_cores;
}

void zero_async(void* p, int64_t floats, cudaStream_t s) {
  if (p && floats > 0) SPK_CUDA_CHECK(cudaMemsetAsync(p, 0, size_t(floats) * sizeof(float), s));
}

}  // namespace

// ---------------------------------------------------------------------------------------------- device facts

ConvCudaDevice conv_cuda_device_facts(int device) {
  ConvCudaDevice f;
  int major = 0;
  SPK_CUDA_CHECK(cudaDeviceGetAttribute(&f.sms, cudaDevAttrMultiProcessorCount, device));
  SPK_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  f.tensor_cores = major >= 8;
  return f;
}

// ---------------------------------------------------------------------------------------------- entry points

void conv2d_forward_cuda(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                         const ConvCudaContext& ctx, void* stream) {
  if (g.N == 0 || g.H_out() * g.W_out() == 0 || g.C_out == 0) return;
  if (ctx.options.backend == ConvCudaBackend::cudnn) return conv_cuda::forward_cudnn(g, x, w, bias, y, ctx, stream);
  const Geom G = make_geom(g);
  const cudaStream_t s = cudaStream_t(stream);
  if (run_direct(g, ctx)) {
    direct_forward_kernel<<<blocks_for(int64_t(G.N) * G.C_out * G.P), kThreads, 0, s>>>(G, x, w, bias, y);
    SPK_KERNEL_LAUNCH_CHECK();
    return;
  }
  const Plan pl = plan(G, Pass::forward, ctx.device.sms);
  Forward pr;
  bind(pr, pl);
  pr.g = G; pr.x = x; pr.w = w; pr.bias = bias; pr.y = y;
  launch_igemm(pl, pr, s);
}

void conv2d_backward_cuda(const ConvGeom& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
                          float* db, const ConvCudaContext& ctx, void* stream) {
  if (!dx && !dw && !db) return;
  const cudaStream_t s = cudaStream_t(stream);
  if (g.N == 0 || g.H_out() * g.W_out() == 0) {   // nothing reaches any gradient: all zeros
    zero_async(dx, g.N * g.C_in * g.H * g.W, s);
    zero_async(dw, g.C_out * g.K_g(), s);
    zero_async(db, g.C_out, s);
    return;
  }
  if (ctx.options.backend == ConvCudaBackend::cudnn)
    return conv_cuda::backward_cudnn(g, x, w, dy, dx, dw, db, ctx, stream);
  const Geom G = make_geom(g);
  if (db) {
    bias_grad_kernel<<<unsigned(G.C_out), kThreads, 0, s>>>(dy, db, G.N, G.C_out, G.P);
    SPK_KERNEL_LAUNCH_CHECK();
  }
  const bool direct = run_direct(g, ctx);
  if (dx && direct) {
    direct_backward_data_kernel<<<blocks_for(int64_t(G.N) * G.C_in * G.HW), kThreads, 0, s>>>(G, w, dy, dx);
    SPK_KERNEL_LAUNCH_CHECK();
  } else if (dx) {
    const Plan pl = plan(G, Pass::backward_data, ctx.device.sms);
    BackwardData pr;
    bind(pr, pl);
    pr.g = G; pr.w = w; pr.dy = dy; pr.dx = dx;
    launch_igemm(pl, pr, s);
  }
  if (dw && direct) {
    direct_backward_weight_kernel<<<blocks_for(int64_t(G.C_out) * G.Kg * 32), kThreads, 0, s>>>(G, x, dy, dw);
    SPK_KERNEL_LAUNCH_CHECK();
  } else if (dw) {
    const Plan pl = plan(G, Pass::backward_weight, ctx.device.sms);
    BackwardWeight pr;
    bind(pr, pl);
    pr.g = G; pr.x = x; pr.dy = dy; pr.dw = dw; pr.ws = nullptr;
    if (pl.dims.splits > 1) pr.ws = static_cast<float*>(ctx.workspace(size_t(pl.workspace_floats) * sizeof(float)));
    launch_igemm(pl, pr, s);
    if (pl.dims.splits > 1) {
      const int64_t MN = int64_t(pl.dims.M) * pl.dims.N;
      splitk_reduce_kernel<<<blocks_for(G.groups * MN), kThreads, 0, s>>>(pr.ws, dw, G.groups, pl.dims.splits, MN);
      SPK_KERNEL_LAUNCH_CHECK();
    }
  }
}

void conv1d_forward_cuda(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                         const ConvCudaContext& ctx, void* stream) {
  conv2d_forward_cuda(g, x, w, bias, y, ctx, stream);
}

void conv1d_backward_cuda(const ConvGeom& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
                          float* db, const ConvCudaContext& ctx, void* stream) {
  conv2d_backward_cuda(g, x, w, dy, dx, dw, db, ctx, stream);
}

}  // namespace spk
