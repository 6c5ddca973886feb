// What the conv kernels need besides their buffers, owned by the engine and passed in on every call
// (kernels/conv/conv.h; docs/engine.md, "Contexts"):
//   CPU:  ConvCpuOptions, the settings below with threads = cpu_threads() (engine/cpu_threads.h);
//   CUDA: a ConvCudaContext built per call by ConvCudaCall: the settings below, the current device's facts
//         and cuDNN state (made once per device, kept for the life of the process), and a workspace served
//         from the engine's caching allocator (engine/cuda.h) and given back when the call ends.
// The settings are process-wide: set them before convs run, from one thread (bench/ and the tests flip them).
#pragma once
#include <vector>

#include "kernels/conv/conv.h"

namespace spk {

// CPU settings. threads = 0 (the default) means cpu_threads() at each call. backend: automatic (dnnl where the
// build has oneDNN), spk or dnnl; spk_train/spk_eval set it from --cpu_conv.
ConvCpuOptions& conv_cpu_options();
void set_conv_cpu_backend(const char* name);   // "auto" | "spk" | "dnnl"; throws on unknown and unbuilt names
// The options one CPU conv runs with: conv_cpu_options() with threads resolved and, when the backend resolves to
// dnnl, the engine's oneDNN state (made on first use, kept for the life of the process).
ConvCpuOptions conv_cpu_call_options();

// CUDA settings. The backend's default comes from the environment variable SPK_CONV_BACKEND=spk|cudnn, read on
// first use; an unknown name, or "cudnn" in a build without cuDNN, throws (naming the variable) on every use
// until it is fixed. set_conv_backend() changes the backend later and throws on the same names.
ConvCudaOptions& conv_cuda_options();
void set_conv_backend(const char* name);   // "spk" | "cudnn"

// The context of one CUDA conv call on the current device. Create it just before the kernel call and keep it
// until the call returns: its destructor gives the workspace blocks back to the caching allocator, whose
// stream-ordered frees make that safe while the kernels still run (engine/cuda_cuda.cpp, "the one-stream
// rule"). In a build without CUDA the constructor throws "no CUDA support".
class ConvCudaCall {
 public:
  ConvCudaCall();
  ~ConvCudaCall();
  ConvCudaCall(const ConvCudaCall&) = delete;
  ConvCudaCall& operator=(const ConvCudaCall&) = delete;

  const ConvCudaContext& context() const { return ctx_; }

 private:
  static void* grab(void* self, size_t bytes);

  ConvCudaContext ctx_;
  int device_ = 0;
  std::vector<void*> blocks_;
};

}  // namespace spk
