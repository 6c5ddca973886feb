// The names of the CUDA conv's backends (kernels/conv/conv.h): "spk", our implicit GEMM, or "cudnn". Plain host
// code, compiled in every build (so the CPU-only build can test the parsing and the "built without cuDNN"
// error). Which backend runs is the engine's setting (engine/conv_context.h, which also reads SPK_CONV_BACKEND).
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

}  // namespace spk
