// The "cudnn" backend of the CUDA conv (kernels/conv/conv.h): cudnnConvolutionForward / BackwardData /
// BackwardFilter / BackwardBias on NCHW f32 tensors, a baseline for the spk kernels and a fallback.
//
// Math: CUDNN_DEFAULT_MATH, which lets cuDNN use TF32 tensor cores on sm_80+ (as PyTorch does by default),
// so both backends carry the same rounding; NVIDIA_TF32_OVERRIDE=0 forces fp32 in both cuDNN and cuBLAS.
// Algorithms: cuDNN's heuristic first choice (cudnnGet*_v7) that fits kMaxWorkspace, or with
// conv_cuda_options().cudnn_find the fastest measured one (cudnnFind*Ex, which runs every algorithm once on
// the real buffers). Either way the choice is cached per (device, geometry, pass, mode); the workspace is
// the conv kernels' shared buffer (conv_cuda::workspace). The handle is per device, bound to the caller's
// stream on every call.
//
// Built only when CMake found cuDNN (SPK_HAVE_CUDNN); otherwise the entry points throw "built without cuDNN".
#include "kernels/conv/conv_cuda_internal.h"
#include "kernels/common/check.h"

#ifndef SPK_HAVE_CUDNN
#define SPK_HAVE_CUDNN 0
#endif

#if SPK_HAVE_CUDNN
#include <cudnn.h>

#include <array>
#include <climits>
#include <map>
#include <mutex>
#include <unordered_map>

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

namespace spk::conv_cuda {

#if SPK_HAVE_CUDNN

namespace {

constexpr size_t kMaxWorkspace = size_t(1) << 30;   // heuristic picks needing more are skipped
constexpr size_t kFindWorkspace = size_t(256) << 20;  // what cudnnFind*Ex may try algorithms with

int current_device() {
  int dev = 0;
  SPK_CUDA_CHECK(cudaGetDevice(&dev));
  return dev;
}

// One handle per device, created on first use and never destroyed (see engine/cuda_cuda.cpp on why).
cudnnHandle_t handle(void* stream) {
  static std::mutex mu;
  static auto* handles = new std::unordered_map<int, cudnnHandle_t>();
  const int dev = current_device();
  cudnnHandle_t h = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = handles->find(dev);
    if (it == handles->end()) {
      SPK_CUDNN_CHECK(cudnnCreate(&h));
      (*handles)[dev] = h;
    } else {
      h = it->second;
    }
  }
  SPK_CUDNN_CHECK(cudnnSetStream(h, cudaStream_t(stream)));
  return h;
}

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

enum class Which : int { forward, backward_data, backward_filter };
struct Algo {
  int algo = 0;
  size_t bytes = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};
using Key = std::array<int64_t, 18>;

Key key_of(const ConvGeom& g, Which which, bool find) {
  return {current_device(), int64_t(which), int64_t(find), g.N, g.C_in, g.H, g.W, g.C_out, g.KH, g.KW,
          g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dil_h, g.dil_w, g.groups, 0};
}

std::mutex& cache_mu() { static std::mutex m; return m; }
std::map<Key, Algo>& cache() { static auto* c = new std::map<Key, Algo>(); return *c; }

// The first usable entry of a cuDNN perf list (sorted best first), or an error naming the pass.
template <class Perf>
Algo first_usable(const Perf* perf, int n, size_t max_bytes, const char* what, const ConvGeom& g) {
  for (int i = 0; i < n; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= max_bytes)
      return Algo{int(perf[i].algo), perf[i].memory, perf[i].mathType};
  SPK_FAIL("conv cudnn: no usable ", what, " algorithm for N ", g.N, ", C_in ", g.C_in, ", H ", g.H, ", W ", g.W,
           ", C_out ", g.C_out, ", K ", g.KH, "x", g.KW, " (", n, " candidates)");
}

// Looks up (or chooses and caches) the algorithm of one pass; `choose` returns it.
template <class Choose>
Algo algo_for(const ConvGeom& g, Which which, Choose&& choose) {
  const bool find = conv_cuda_options().cudnn_find;
  const Key k = key_of(g, which, find);
  {
    std::lock_guard<std::mutex> lock(cache_mu());
    auto it = cache().find(k);
    if (it != cache().end()) return it->second;
  }
  const Algo a = choose(find);
  std::lock_guard<std::mutex> lock(cache_mu());
  cache()[k] = a;
  return a;
}

void* ws_for(const Algo& a, void* stream) { return a.bytes ? workspace(a.bytes, stream) : nullptr; }

}  // namespace

void forward_cudnn(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, void* stream) {
  cudnnHandle_t h = handle(stream);
  Descs d(g);
  const Algo a = algo_for(g, Which::forward, [&](bool find) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int n = 0;
    if (find)
      SPK_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, d.x, x, d.w, w, d.conv, d.y, y,
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf,
                                                             workspace(kFindWorkspace, stream), kFindWorkspace));
    else
      SPK_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                             &n, perf));
    return first_usable(perf, n, find ? kFindWorkspace : kMaxWorkspace, "forward", g);
  });
  SPK_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, a.math));
  const float one = 1.f, zero = 0.f;
  SPK_CUDNN_CHECK(cudnnConvolutionForward(h, &one, d.x, x, d.w, w, d.conv, cudnnConvolutionFwdAlgo_t(a.algo),
                                          ws_for(a, stream), a.bytes, &zero, d.y, y));
  if (bias) SPK_CUDNN_CHECK(cudnnAddTensor(h, &one, d.b, bias, &one, d.y, y));
}

void backward_cudnn(const ConvGeom& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
                    float* db, void* stream) {
  cudnnHandle_t h = handle(stream);
  Descs d(g);
  const float one = 1.f, zero = 0.f;
  if (db) SPK_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, d.y, dy, &zero, d.b, db));
  if (dx) {
    const Algo a = algo_for(g, Which::backward_data, [&](bool find) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      int n = 0;
      if (find)
        SPK_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w, w, d.y, dy, d.conv, d.x, dx,
                                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf,
                                                                    workspace(kFindWorkspace, stream), kFindWorkspace));
      else
        SPK_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w, d.y, d.conv, d.x,
                                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf));
      return first_usable(perf, n, find ? kFindWorkspace : kMaxWorkspace, "backward-data", g);
    });
    SPK_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, a.math));
    SPK_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, d.w, w, d.y, dy, d.conv,
                                                 cudnnConvolutionBwdDataAlgo_t(a.algo), ws_for(a, stream), a.bytes,
                                                 &zero, d.x, dx));
  }
  if (dw) {
    const Algo a = algo_for(g, Which::backward_filter, [&](bool find) {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      int n = 0;
      if (find)
        SPK_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x, x, d.y, dy, d.conv, d.w, dw,
                                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n,
                                                                      perf, workspace(kFindWorkspace, stream),
                                                                      kFindWorkspace));
      else
        SPK_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x, d.y, d.conv, d.w,
                                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n,
                                                                      perf));
      return first_usable(perf, n, find ? kFindWorkspace : kMaxWorkspace, "backward-filter", g);
    });
    SPK_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, a.math));
    SPK_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, d.x, x, d.y, dy, d.conv,
                                                   cudnnConvolutionBwdFilterAlgo_t(a.algo), ws_for(a, stream),
                                                   a.bytes, &zero, d.w, dw));
  }
}

#else  // built without cuDNN

void forward_cudnn(const ConvGeom&, const float*, const float*, const float*, float*, void*) {
  SPK_FAIL("conv backend \"cudnn\": this build of spk was built without cuDNN (set CUDNN_ROOT and reconfigure)");
}
void backward_cudnn(const ConvGeom&, const float*, const float*, const float*, float*, float*, float*, void*) {
  SPK_FAIL("conv backend \"cudnn\": this build of spk was built without cuDNN (set CUDNN_ROOT and reconfigure)");
}

#endif

}  // namespace spk::conv_cuda
