// Internals shared by the two CUDA conv backends (kernels/conv/conv_cuda.cu, kernels/conv/conv_cudnn_cuda.cpp):
// the cuDNN entry points the dispatch in conv_cuda.cu calls. CUDA builds only.
#pragma once
#include "kernels/conv/conv.h"

namespace spk::conv_cuda {

// cuDNN backend (conv_cudnn_cuda.cpp); in builds without cuDNN they throw "built without cuDNN".
void forward_cudnn(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                   const ConvCudaContext& ctx, void* stream);
void backward_cudnn(const ConvGeom& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
                    float* db, const ConvCudaContext& ctx, void* stream);

}  // namespace spk::conv_cuda
