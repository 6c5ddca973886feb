// The CUDA conv's process-wide knobs (kernels/conv/conv.h): which backend runs ("spk", our implicit GEMM, or
// "cudnn"), chosen by SPK_CONV_BACKEND or set_conv_backend(). Plain host code, compiled in every build (so
// the CPU-only build can test the parsing and the "built without cuDNN" error).
#include <cstdlib>
#include <cstring>

#include "kernels/common/check.h"
#include "kernels/conv/conv.h"

#ifndef SPK_HAVE_CUDNN
#define SPK_HAVE_CUDNN 0
#endif

namespace spk {

bool conv_cudnn_built() { return SPK_HAVE_CUDNN != 0; }

const char* conv_backend_name(ConvCudaBackend b) { return b == ConvCudaBackend::cudnn ? "cudnn" : "spk"; }

ConvCudaBackend parse_conv_backend(const char* name) {
  SPK_CHECK(name != nullptr, "conv backend: no name given (spk or cudnn)");
  if (std::strcmp(name, "spk") == 0) return ConvCudaBackend::spk;
  if (std::strcmp(name, "cudnn") == 0) {
    SPK_CHECK(conv_cudnn_built(), "conv backend \"cudnn\": this build of spk was built without cuDNN (CMake did not "
              "find cudnn.h and libcudnn; set CUDNN_ROOT and reconfigure), use \"spk\"");
    return ConvCudaBackend::cudnn;
  }
  SPK_FAIL("conv backend: unknown name \"", name, "\" (expected spk or cudnn)");
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

}  // namespace spk
