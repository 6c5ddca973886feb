// Convolution kernels, PyTorch semantics (cross-correlation, zero padding, dilation, groups).
//
//   x (N, C_in, H, W), w (C_out, C_in/groups, KH, KW), bias (C_out) or null -> y (N, C_out, H_out, W_out)
//   H_out = floor((H + 2·pad_h − dil_h·(KH − 1) − 1) / stride_h) + 1, likewise W_out.
//   conv1d is the same kernel with H = KH = 1 (conv1d_geom): x (N, C_in, L), w (C_out, C_in/groups, K).
//
// CPU: im2col (or the input itself for 1×1 stride-1 unpadded convs) + GEMM (OpenBLAS), chunked over
// output rows so the column buffer stays cache-sized, threaded on the work pool (kernels/common/work_pool.h)
// over (image, chunk) while OpenBLAS runs single-threaded inside (see conv_cpu.cpp for why and when it falls
// back to OpenBLAS's own threads). All buffers dense, row-major.
//
// Backward writes (=) every gradient it is given a pointer for and skips the null ones:
//   dx (N, C_in, H, W), dw (C_out, C_in/groups, KH, KW), db (C_out).
// Parameter gradients accumulate across steps only through autograd, never here.
//
// Everything a call depends on besides its buffers comes in as an argument: ConvCpuOptions on the CPU, a
// ConvCudaContext (options, device facts, cuDNN state, workspace) on CUDA. The engine owns and fills them
// (engine/conv_context.h, docs/engine.md "Contexts"); nothing here reads the environment or keeps settings.
#pragma once
#include <cstddef>
#include <cstdint>

namespace spk {

struct ConvGeom {
  int64_t N = 1, C_in = 1, H = 1, W = 1;   // input (N, C_in, H, W)
  int64_t C_out = 1, KH = 1, KW = 1;       // weight (C_out, C_in/groups, KH, KW)
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;

  int64_t H_out() const { return (H + 2 * pad_h - dil_h * (KH - 1) - 1) / stride_h + 1; }
  int64_t W_out() const { return (W + 2 * pad_w - dil_w * (KW - 1) - 1) / stride_w + 1; }
  int64_t C_in_g() const { return C_in / groups; }
  int64_t C_out_g() const { return C_out / groups; }
  int64_t K_g() const { return C_in_g() * KH * KW; }   // GEMM inner dim per group
  // Multiply-adds ×2 of the forward pass; each of the two backward GEMMs (dx, dw) costs the same.
  double flops() const { return 2.0 * double(N) * double(C_out) * double(H_out()) * double(W_out()) * double(K_g()); }
};

// A 1-D convolution as a 2-D one over (N, C_in, 1, L) with a (1, K) kernel.
inline ConvGeom conv1d_geom(int64_t N, int64_t C_in, int64_t L, int64_t C_out, int64_t K, int64_t stride,
                            int64_t padding, int64_t dilation, int64_t groups) {
  ConvGeom g;
  g.N = N; g.C_in = C_in; g.H = 1; g.W = L; g.C_out = C_out; g.KH = 1; g.KW = K;
  g.stride_w = stride; g.pad_w = padding; g.dil_w = dilation; g.groups = groups;
  return g;
}

// How the CPU kernels run (the engine's copy: engine/conv_context.h). The defaults are the measured best on
// the 2-core dev box (bench/README.md); bench/ flips them to time the alternatives.
enum class ConvThreading : uint8_t {
  units,   // the work pool over (image, chunk) units with OpenBLAS held to one thread (default)
  blas,    // units one after another; OpenBLAS threads each GEMM, im2col/col2im run on one thread
};
// Which implementation runs a CPU f32 conv (f64 always runs spk's, the reference): spk's im2col + GEMM, or
// oneDNN's convolutions (conv_dnnl_cpu.cpp) where the build has oneDNN. `automatic` is dnnl where built, except
// for the passes spk's kernels run faster (1×1 convs of < 1024 input channels, the input gradient with < 4
// input channels per group: conv_cpu.cpp, use_dnnl); `dnnl` sends every f32 pass to oneDNN.
enum class ConvCpuBackend : uint8_t { automatic, spk, dnnl };
struct ConvDnnlState;   // oneDNN's engine and per-shape primitive cache (opaque; the engine owns one)
struct ConvCpuOptions {
  ConvCpuBackend backend = ConvCpuBackend::automatic;
  ConvDnnlState* dnnl = nullptr;                // required when the dnnl backend runs (the engine fills it)
  ConvThreading threading = ConvThreading::units;
  int64_t col_chunk_bytes = int64_t(1) << 20;   // target size of one im2col chunk
  int threads = 1;                              // work-pool threads for `units` (the engine's cpu_threads())
  // Autocast bf16 (engine/autocast.h): the products read the operands rounded to bf16. The dnnl backend then runs
  // oneDNN's bf16 kernels (AMX or AVX512-BF16) where the CPU has them (bf16_dnnl_usable below), for every f32
  // pass: its reorders round the fp32 operands to bf16 (nearest even, as kernels/common/half.h), products exact,
  // f32 accumulation and outputs. A shape with no bf16 jit kernel runs the f32 ones on operands rounded first.
  // spk's own kernels ignore it: their callers round the operands (engine/ops/conv.cpp).
  bool bf16 = false;
};

const char* conv_cpu_backend_name(ConvCpuBackend b);
ConvCpuBackend parse_conv_cpu_backend(const char* name);   // auto|spk|dnnl; throws on unknown and unbuilt ones
bool conv_dnnl_built();                                    // this build links oneDNN (CMake found it)
ConvDnnlState* conv_dnnl_state_create();                   // throws in builds without oneDNN
// The backend a call with these options runs: automatic resolves to dnnl where built, else spk.
inline ConvCpuBackend conv_cpu_resolved_backend(const ConvCpuOptions& opt) {
  if (opt.backend != ConvCpuBackend::automatic) return opt.backend;
  return conv_dnnl_built() ? ConvCpuBackend::dnnl : ConvCpuBackend::spk;
}
// oneDNN's conv (f32), same semantics and (=) rule; the conv2d_*_cpu entry points call these when the options
// pick dnnl. No bias gradient here: the entry point sums db itself.
void conv2d_forward_dnnl(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                         ConvDnnlState& state, int threads, bool bf16 = false);
// Whether oneDNN runs bf16 convolutions natively on this CPU (AVX512-BF16 or AMX; false without oneDNN). Where
// it does not, ConvCpuOptions::bf16 runs the f32 kernels on the rounded operands: the same numerics, slower.
bool bf16_dnnl_usable();
// Tests: make every bf16 plan of this state take the f32 fallback (the path of a shape oneDNN has no bf16 jit
// kernel for, which none of the nets' shapes hit on an AMX CPU); clears the state's cached plans.
void conv_dnnl_refuse_bf16(ConvDnnlState& state, bool refuse);
// How many column windows (of the output's last axis) each image of a dnnl forward call is cut into, one
// thread each: 1 (images split between threads, or no split) unless there are fewer images than threads, as in
// batch-1 extraction, and at least 8 output columns per window.
int64_t conv_dnnl_column_windows(const ConvGeom& g, int threads);
void conv2d_backward_dnnl(const ConvGeom& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
                          ConvDnnlState& state, int threads, bool bf16 = false);

template <class T> void conv2d_forward_cpu(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y,
                                           const ConvCpuOptions& opt);
template <class T> void conv2d_backward_cpu(const ConvGeom& g, const T* x, const T* w, const T* dy, T* dx, T* dw,
                                            T* db, const ConvCpuOptions& opt);
template <class T> void conv1d_forward_cpu(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y,
                                           const ConvCpuOptions& opt) {
  conv2d_forward_cpu<T>(g, x, w, bias, y, opt);
}
template <class T> void conv1d_backward_cpu(const ConvGeom& g, const T* x, const T* w, const T* dy, T* dx, T* dw,
                                            T* db, const ConvCpuOptions& opt) {
  conv2d_backward_cpu<T>(g, x, w, dy, dx, dw, db, opt);
}

// ---- CUDA (f32; kernels/conv/conv_cuda.cu, docs/cuda/conv.md) ----
// Same semantics and write (=) rule as the CPU kernels. Which implementation runs is ctx.options.backend:
// "spk", our TF32 tensor-core implicit GEMM (default), or "cudnn", cuDNN's convolutions as a baseline/fallback.
enum class ConvCudaBackend : uint8_t { spk, cudnn };
enum class ConvCudaAlgo : uint8_t {
  automatic,   // igemm, except the direct loops for convs too small to fill the GPU
  igemm,       // TF32 tensor-core implicit GEMM
  direct,      // one thread (or warp) per output element, plain fp32 FMA: slow, obviously right
};
struct ConvCudaOptions {
  ConvCudaBackend backend = ConvCudaBackend::spk;
  ConvCudaAlgo algo = ConvCudaAlgo::automatic;   // spk backend only
  bool cudnn_find = false;   // cudnn backend: time every algorithm once per shape (cudnnFind*Ex) instead of
                             // taking cuDNN's heuristic first choice
  bool deterministic = true;   // cudnn backend: deterministic algorithms only (conv_cudnn_pick.h); the spk
                               // backend is deterministic always
};
const char* conv_backend_name(ConvCudaBackend b);
ConvCudaBackend parse_conv_backend(const char* name);   // throws on unknown names and unbuilt backends
bool conv_cudnn_built();   // this build links cuDNN (CMake found it)

// What the spk backend needs to know of the GPU it runs on (conv_cuda_device_facts queries the runtime; the
// engine asks once per device and keeps the answer).
struct ConvCudaDevice {
  int sms = 0;                 // streaming multiprocessors: the launch plan sizes its grid by them
  bool tensor_cores = false;   // compute capability >= 8.0: TF32 wmma; without, every conv runs the direct loops
};
ConvCudaDevice conv_cuda_device_facts(int device);

// The cuDNN backend's state for one device: its handle and its algorithm choices per (geometry, pass, mode).
// Opaque here (conv_cudnn_cuda.cpp). The engine creates one per device for the current device, on first use
// of the cudnn backend, and keeps it for the life of the process (as its cuBLAS handles: engine/cuda_cuda.cpp
// says why they are never destroyed). Throws "built without cuDNN" in builds without it.
struct ConvCudnnState;
ConvCudnnState* conv_cudnn_state_create();

// Device scratch for one conv call: get(owner, bytes) returns a buffer of at least `bytes` on the current
// device. Each call may return a new buffer; all of them stay valid until the kernels that the conv entry
// point enqueued on its stream have run (the engine hands out blocks of its caching allocator and frees
// them, stream-ordered, when the entry point returns).
struct ConvWorkspace {
  void* (*get)(void* owner, size_t bytes) = nullptr;
  void* owner = nullptr;
  void* operator()(size_t bytes) const { return get(owner, bytes); }
};

// Everything a CUDA conv call depends on besides its buffers and stream (engine/conv_context.h builds it).
struct ConvCudaContext {
  ConvCudaOptions options;
  ConvCudaDevice device;              // facts of the current device
  ConvCudnnState* cudnn = nullptr;    // the current device's cuDNN state; needed when options.backend == cudnn
  ConvWorkspace workspace;
};

void conv2d_forward_cuda(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                         const ConvCudaContext& ctx, void* stream);
void conv2d_backward_cuda(const ConvGeom& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
                          float* db, const ConvCudaContext& ctx, void* stream);
void conv1d_forward_cuda(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                         const ConvCudaContext& ctx, void* stream);
void conv1d_backward_cuda(const ConvGeom& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
                          float* db, const ConvCudaContext& ctx, void* stream);

}  // namespace spk
