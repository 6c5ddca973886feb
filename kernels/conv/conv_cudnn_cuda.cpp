// The "cudnn" backend of the CUDA conv (kernels/conv/conv.h): cudnnConvolutionForward / BackwardData /
// BackwardFilter / BackwardBias on NCHW f32 tensors, a baseline for the spk kernels and a fallback.
//
// Math: CUDNN_DEFAULT_MATH, which lets cuDNN use TF32 tensor cores on sm_80+ (as PyTorch does by default),
// so both backends carry the same rounding; NVIDIA_TF32_OVERRIDE=0 forces fp32 in both cuDNN and cuBLAS.
// Algorithms: cuDNN's heuristic first choice (cudnnGet*_v7) that fits kMaxWorkspace and, unless
// ctx.options.deterministic is off, is deterministic (conv_cudnn_pick.h), or with
// ctx.options.cudnn_find the fastest measured one (cudnnFind*Ex, which runs every algorithm once on the real
// buffers). Either way the choice is cached per (geometry, pass, mode, determinism) in the device's
// ConvCudnnState, which also holds the device's handle (bound to the caller's stream on every call) and the
// descriptors of each geometry; the engine creates one state per device and passes it in the context, with
// the workspace (ctx.workspace, the engine's allocator).
//
// Built only when CMake found cuDNN (SPK_HAVE_CUDNN); otherwise the entry points throw "built without cuDNN".
#include "kernels/conv/conv_cuda_internal.h"
#include "kernels/conv/conv_cudnn_pick.h"
#include "kernels/common/check.h"

#ifndef SPK_HAVE_CUDNN
#define SPK_HAVE_CUDNN 0
#endif

#if SPK_HAVE_CUDNN
#include <cudnn.h>

#include <array>
#include <climits>
#include <map>
#include <memory>
#include <mutex>

#include "kernels/common/cuda_check.h"

#define SPK_CUDNN_CHECK(expr)                                                                              \
  do {                                                                                                     \
    const cudnnStatus_t spk_cudnn_st_ = (expr);                                                            \
    if (spk_cudnn_st_ != CUDNN_STATUS_SUCCESS) {                                                           \
      (void)cudaGetLastError();                                                                            \
      ::spk::detail::throw_error(__FILE__, __LINE__,                                                       \
                                 ::spk::detail::cat("cuDNN error: ", #expr, ": ",                          \
                                                    cudnnGetErrorString(spk_cudnn_st_)));                  \
    }                                                                                                      \
  } while (0)
#endif

#if SPK_HAVE_CUDNN

namespace spk {

namespace conv_cuda {
namespace {

constexpr size_t kMaxWorkspace = size_t(1) << 30;   // heuristic picks needing more are skipped
constexpr size_t kFindWorkspace = size_t(256) << 20;  // what cudnnFind*Ex may try algorithms with

enum class Which : int { forward, backward_data, backward_filter };
struct Algo {
  int algo = 0;
  size_t bytes = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};
using Key = std::array<int64_t, 17>;

int to_int(int64_t v, const ConvGeom& g) {
  SPK_CHECK(v >= 0 && v <= INT_MAX, "conv cudnn: size ", v, " does not fit cuDNN's int descriptors (N ", g.N,
            ", C_in ", g.C_in, ", H ", g.H, ", W ", g.W, ", C_out ", g.C_out, ")");
  return int(v);
}

// The descriptors of one conv, destroyed with the object.
struct Descs {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, b = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  explicit Descs(const ConvGeom& g) {
    try {
      SPK_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
      SPK_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
      SPK_CUDNN_CHECK(cudnnCreateTensorDescriptor(&b));
      SPK_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
      SPK_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
      SPK_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(g.N, g),
                                                 to_int(g.C_in, g), to_int(g.H, g), to_int(g.W, g)));
      SPK_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(g.N, g),
                                                 to_int(g.C_out, g), to_int(g.H_out(), g), to_int(g.W_out(), g)));
      SPK_CUDNN_CHECK(cudnnSetTensor4dDescriptor(b, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, to_int(g.C_out, g), 1, 1));
      SPK_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, to_int(g.C_out, g),
                                                 to_int(g.C_in_g(), g), to_int(g.KH, g), to_int(g.KW, g)));
      SPK_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, to_int(g.pad_h, g), to_int(g.pad_w, g),
                                                      to_int(g.stride_h, g), to_int(g.stride_w, g),
                                                      to_int(g.dil_h, g), to_int(g.dil_w, g),
                                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
      SPK_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, to_int(g.groups, g)));
      SPK_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, CUDNN_DEFAULT_MATH));
    } catch (...) {
      release();
      throw;
    }
  }
  ~Descs() { release(); }
  Descs(const Descs&) = delete;
  Descs& operator=(const Descs&) = delete;

 private:
  void release() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (b) cudnnDestroyTensorDescriptor(b);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    x = y = b = nullptr;
    w = nullptr;
    conv = nullptr;
  }
};

}  // namespace
}  // namespace conv_cuda

// One device's handle and algorithm choices (conv.h). The mutex guards the cache only: the engine issues GPU
// work from one host thread at a time, but a lookup costs nothing next to a conv.
// Descriptors are cached per geometry too: creating and destroying five of them on every call cost more host
// time than a small conv's kernels.
struct ConvCudnnState {
  cudnnHandle_t handle = nullptr;
  std::mutex mu;
  std::map<conv_cuda::Key, conv_cuda::Algo> algos;
  std::map<conv_cuda::Key, std::unique_ptr<conv_cuda::Descs>> descs;
};

ConvCudnnState* conv_cudnn_state_create() {
  auto* st = new ConvCudnnState();
  const cudnnStatus_t e = cudnnCreate(&st->handle);
  if (e != CUDNN_STATUS_SUCCESS) {
    delete st;
    SPK_FAIL("cuDNN error: cudnnCreate: ", cudnnGetErrorString(e));
  }
  return st;
}

namespace conv_cuda {

namespace {

// The state's handle, bound to the caller's stream.
cudnnHandle_t handle(const ConvCudaContext& ctx, void* stream) {
  SPK_CHECK(ctx.cudnn != nullptr, "conv cudnn: the context carries no cuDNN state (engine/conv_context.h makes one)");
  SPK_CUDNN_CHECK(cudnnSetStream(ctx.cudnn->handle, cudaStream_t(stream)));
  return ctx.cudnn->handle;
}

Key key_of(const ConvGeom& g, Which which, bool find, bool deterministic) {
  return {int64_t(which), int64_t(find), g.N, g.C_in, g.H, g.W, g.C_out, g.KH, g.KW,
          g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dil_h, g.dil_w, g.groups, int64_t(deterministic)};
}

// The cached descriptors of a geometry (made on first use, kept with the state for the life of the process).
Descs& descs_for(const ConvGeom& g, const ConvCudaContext& ctx) {
  const Key k = key_of(g, Which::forward, false, false);
  ConvCudnnState& st = *ctx.cudnn;
  std::lock_guard<std::mutex> lock(st.mu);
  auto& d = st.descs[k];
  if (!d) d = std::make_unique<Descs>(g);
  return *d;
}

// The first usable entry of a cuDNN perf list (sorted best first), or an error naming the pass.
template <class Perf>
Algo first_usable(const Perf* perf, int n, size_t max_bytes, bool deterministic, const char* what, const ConvGeom& g) {
  std::array<CudnnCandidate, 16> c{};
  const int m = n < int(c.size()) ? n : int(c.size());
  for (int i = 0; i < m; ++i)
    c[size_t(i)] = {int(perf[i].algo), perf[i].status == CUDNN_STATUS_SUCCESS, perf[i].memory,
                    perf[i].determinism == CUDNN_DETERMINISTIC};
  const int i = pick_cudnn_candidate(c.data(), m, max_bytes, deterministic);
  if (i >= 0) return Algo{int(perf[i].algo), perf[i].memory, perf[i].mathType};
  SPK_FAIL("conv cudnn: no usable ", deterministic ? "deterministic " : "", what, " algorithm for N ", g.N, ", C_in ",
           g.C_in, ", H ", g.H, ", W ", g.W, ", C_out ", g.C_out, ", K ", g.KH, "x", g.KW, " (", n, " candidates",
           deterministic ? "; ConvCudaOptions::deterministic = false allows the others" : "", ")");
}

// Looks up (or chooses and caches) the algorithm of one pass; `choose` returns it.
template <class Choose>
Algo algo_for(const ConvGeom& g, Which which, const ConvCudaContext& ctx, Choose&& choose) {
  const bool find = ctx.options.cudnn_find;
  const Key k = key_of(g, which, find, ctx.options.deterministic);
  ConvCudnnState& st = *ctx.cudnn;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    auto it = st.algos.find(k);
    if (it != st.algos.end()) return it->second;
  }
  const Algo a = choose(find);
  std::lock_guard<std::mutex> lock(st.mu);
  st.algos[k] = a;
  return a;
}

void* ws_for(const Algo& a, const ConvCudaContext& ctx) { return a.bytes ? ctx.workspace(a.bytes) : nullptr; }

}  // namespace

void forward_cudnn(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                   const ConvCudaContext& ctx, void* stream) {
  cudnnHandle_t h = handle(ctx, stream);
  Descs& d = descs_for(g, ctx);
  const Algo a = algo_for(g, Which::forward, ctx, [&](bool find) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int n = 0;
    if (find)
      SPK_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, d.x, x, d.w, w, d.conv, d.y, y,
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf,
                                                             ctx.workspace(kFindWorkspace), kFindWorkspace));
    else
      SPK_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                             &n, perf));
    return first_usable(perf, n, find ? kFindWorkspace : kMaxWorkspace, ctx.options.deterministic,
                          "forward", g);
  });
  SPK_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, a.math));
  const float one = 1.f, zero = 0.f;
  SPK_CUDNN_CHECK(cudnnConvolutionForward(h, &one, d.x, x, d.w, w, d.conv, cudnnConvolutionFwdAlgo_t(a.algo),
                                          ws_for(a, ctx), a.bytes, &zero, d.y, y));
  if (bias) SPK_CUDNN_CHECK(cudnnAddTensor(h, &one, d.b, bias, &one, d.y, y));
}

void backward_cudnn(const ConvGeom& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
                    float* db, const ConvCudaContext& ctx, void* stream) {
  cudnnHandle_t h = handle(ctx, stream);
  Descs& d = descs_for(g, ctx);
  const float one = 1.f, zero = 0.f;
  if (db) SPK_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, d.y, dy, &zero, d.b, db));
  if (dx) {
    const Algo a = algo_for(g, Which::backward_data, ctx, [&](bool find) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      int n = 0;
      if (find)
        SPK_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w, w, d.y, dy, d.conv, d.x, dx,
                                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf,
                                                                    ctx.workspace(kFindWorkspace), kFindWorkspace));
      else
        SPK_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv, d.x,
                                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf));
      return first_usable(perf, n, find ? kFindWorkspace : kMaxWorkspace, ctx.options.deterministic,
                          "backward-data", g);
    });
    SPK_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, a.math));
    SPK_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, d.w, w, d.y, dy, d.conv,
                                                 cudnnConvolutionBwdDataAlgo_t(a.algo), ws_for(a, ctx), a.bytes,
                                                 &zero, d.x, dx));
  }
  if (dw) {
    const Algo a = algo_for(g, Which::backward_filter, ctx, [&](bool find) {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      int n = 0;
      if (find)
        SPK_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x, x, d.y, dy, d.conv, d.w, dw,
                                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n,
                                                                      perf, ctx.workspace(kFindWorkspace),
                                                                      kFindWorkspace));
      else
        SPK_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv, d.w,
                                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n,
                                                                      perf));
      return first_usable(perf, n, find ? kFindWorkspace : kMaxWorkspace, ctx.options.deterministic,
                          "backward-filter", g);
    });
    SPK_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, a.math));
    SPK_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, d.x, x, d.y, dy, d.conv,
                                                   cudnnConvolutionBwdFilterAlgo_t(a.algo), ws_for(a, ctx),
                                                   a.bytes, &zero, d.w, dw));
  }
}

}  // namespace conv_cuda

}  // namespace spk

#else  // built without cuDNN

namespace spk {

struct ConvCudnnState {};
ConvCudnnState* conv_cudnn_state_create() {
  SPK_FAIL("conv backend \"cudnn\": this build of spk was built without cuDNN (set CUDNN_ROOT and reconfigure)");
}

namespace conv_cuda {

void forward_cudnn(const ConvGeom&, const float*, const float*, const float*, float*, const ConvCudaContext&, void*) {
  SPK_FAIL("conv backend \"cudnn\": this build of spk was built without cuDNN (set CUDNN_ROOT and reconfigure)");
}
void backward_cudnn(const ConvGeom&, const float*, const float*, const float*, float*, float*, float*,
                    const ConvCudaContext&, void*) {
  SPK_FAIL("conv backend \"cudnn\": this build of spk was built without cuDNN (set CUDNN_ROOT and reconfigure)");
}

}  // namespace conv_cuda

}  // namespace spk

#endif
