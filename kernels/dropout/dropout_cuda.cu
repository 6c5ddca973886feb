// CUDA dropout (kernels/dropout/dropout.h), f32. Element i draws philox_uniform(offset + i, seed) — the same
// host/device function of kernels/common/philox.h the CPU kernel calls, in double — so the mask is the
// CPU's bit for bit for any launch shape, and kept values are x·scale with the same f32 scale (one
// correctly rounded multiply on both devices): the output equals the CPU's exactly.
// One thread per element, grid-stride; the Philox rounds (10 × two 32×32→64 multiplies) dominate, not memory.
#include <cstdint>

#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/common/philox.h"
#include "kernels/dropout/dropout.h"

namespace spk {

namespace {

using namespace cuda_launch;

__global__ void dropout_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, double p, float scale,
                               uint64_t seed, uint64_t offset) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    y[i] = philox_uniform(offset + uint64_t(i), seed) < p ? 0.0f : x[i] * scale;
}

void dropout_launch(const float* x, float* y, int64_t n, double p, uint64_t seed, uint64_t offset, void* stream) {
  if (n == 0) return;
  const float scale = float(1.0 / (1.0 - p));   // the CPU's T(1.0 / (1.0 - p))
  dropout_kernel<<<blocks_for(n), kThreads, 0, cudaStream_t(stream)>>>(x, y, n, p, scale, seed, offset);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace

void dropout_forward_cuda(const float* x, float* y, int64_t n, double p, uint64_t seed, uint64_t offset,
                          void* stream) {
  dropout_launch(x, y, n, p, seed, offset, stream);
}

void dropout_backward_cuda(const float* dy, float* dx, int64_t n, double p, uint64_t seed, uint64_t offset,
                           void* stream) {
  dropout_launch(dy, dx, n, p, seed, offset, stream);   // linear in x: the same masked scaling
}

}  // namespace spk
