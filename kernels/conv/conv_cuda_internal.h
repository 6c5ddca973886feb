// Internals shared by the two CUDA conv backends (kernels/conv/conv_cuda.cu, kernels/conv/conv_cudnn_cuda.cpp):
// the workspace they borrow and the cuDNN entry points the dispatch in conv_cuda.cu calls. CUDA builds only.
#pragma once
#include <cstddef>

#include "kernels/conv/conv.h"

namespace spk::conv_cuda {

// A device buffer of at least `bytes` for the current device, owned by the conv kernels and reused by every
// conv on that device. Valid until the next call: all convs run on the engine's one stream per device, so a
// later conv's kernels queue behind the earlier ones that read it. Growing it waits for `stream` before
// freeing the old buffer. Lives outside the engine's caching allocator (kernels know nothing of it).
void* workspace(size_t bytes, void* stream);

// cuDNN backend (conv_cudnn_cuda.cpp); in builds without cuDNN they throw "built without cuDNN".
void forward_cudnn(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, void* stream);
void backward_cudnn(const ConvGeom& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
                    float* db, void* stream);

}  // namespace spk::conv_cuda
