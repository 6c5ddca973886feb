// The engine's side of the conv kernels (engine/conv_context.h): their settings, the SPK_CONV_BACKEND
// variable, and per device the facts the launch plan needs and the cuDNN state, plus per call a workspace from
// the caching allocator. Runtime queries go through the kernels (conv_cuda_device_facts) and engine/cuda.h, so
// this file compiles in every build; without CUDA, ConvCudaCall throws.
#include "engine/conv_context.h"

#include <cstdlib>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "engine/check.h"
#include "engine/cpu_threads.h"
#include "engine/cuda.h"

namespace spk {

ConvCpuOptions& conv_cpu_options() {
  static ConvCpuOptions options = [] {
    ConvCpuOptions o;
    o.threads = 0;   // cpu_threads() at each call
    return o;
  }();
  return options;
}

void set_conv_cpu_backend(const char* name) { conv_cpu_options().backend = parse_conv_cpu_backend(name); }

ConvCpuOptions conv_cpu_call_options() {
  ConvCpuOptions o = conv_cpu_options();
  if (o.threads <= 0) o.threads = cpu_threads();
  if (conv_cpu_resolved_backend(o) == ConvCpuBackend::dnnl && !o.dnnl) {
    // One primitive cache for the process, never destroyed (as the cuDNN state below): tensors in statics may
    // run convs during static destruction.
    static ConvDnnlState* state = conv_dnnl_state_create();
    o.dnnl = state;
  }
  return o;
}

ConvCudaOptions& conv_cuda_options() {
  // First use reads the environment; a bad value throws here, and again on the next use until it is fixed.
  static ConvCudaOptions options = [] {
    ConvCudaOptions o;
    const char* env = std::getenv("SPK_CONV_BACKEND");
    if (env && *env) {
      try {
        o.backend = parse_conv_backend(env);
      } catch (const Error& e) {
        SPK_FAIL("SPK_CONV_BACKEND=", env, ": ", e.what());
      }
    }
    return o;
  }();
  return options;
}

void set_conv_backend(const char* name) { conv_cuda_options().backend = parse_conv_backend(name); }

#if SPK_HAVE_CUDA

namespace {

// What the engine keeps per device for the conv kernels: created on first use, never destroyed (tensors in
// statics may run convs' frees during static destruction; engine/cuda_cuda.cpp has the same rule).
struct ConvDevice {
  std::once_flag facts_once, cudnn_once;
  ConvCudaDevice facts;
  ConvCudnnState* cudnn = nullptr;
};

ConvDevice& conv_device(int device) {
  static std::mutex mu;
  static auto* table = new std::unordered_map<int, std::unique_ptr<ConvDevice>>();
  std::lock_guard<std::mutex> lock(mu);
  auto& d = (*table)[device];
  if (!d) d = std::make_unique<ConvDevice>();
  return *d;
}

}  // namespace

ConvCudaCall::ConvCudaCall() : device_(cuda::current_device()) {
  ConvDevice& d = conv_device(device_);
  std::call_once(d.facts_once, [&] { d.facts = conv_cuda_device_facts(device_); });
  ctx_.options = conv_cuda_options();
  ctx_.device = d.facts;
  if (ctx_.options.backend == ConvCudaBackend::cudnn) {
    std::call_once(d.cudnn_once, [&] { d.cudnn = conv_cudnn_state_create(); });   // a throw leaves it unset
    ctx_.cudnn = d.cudnn;
  }
  ctx_.workspace.get = &ConvCudaCall::grab;
  ctx_.workspace.owner = this;
}

ConvCudaCall::~ConvCudaCall() {
  for (void* p : blocks_) cuda::free(p, device_);
}

void* ConvCudaCall::grab(void* self, size_t bytes) {
  auto* call = static_cast<ConvCudaCall*>(self);
  call->blocks_.reserve(call->blocks_.size() + 1);   // no throw between alloc and push_back
  void* p = cuda::alloc(bytes, call->device_);
  call->blocks_.push_back(p);
  return p;
}

#else

ConvCudaCall::ConvCudaCall() { SPK_FAIL("conv: this build of spk has no CUDA support"); }
ConvCudaCall::~ConvCudaCall() = default;
void* ConvCudaCall::grab(void*, size_t) { SPK_FAIL("conv: this build of spk has no CUDA support"); }

#endif

}  // namespace spk
