// CUDA SpecAugment masks (kernels/specaug/specaug.h), f32. One thread per element, grid-stride; each reads its
// row's few intervals (n_time + n_freq pairs, a handful of bytes that stay in L1) and writes x or 0; y may be x,
// so neither pointer is __restrict__. The output is a copy or an exact 0, so it equals the CPU reference bit for
// bit. Memory-bound: 8 bytes per element (read x, write y); bench/bench_specaug.cpp measures it against a device
// copy.
#include <cstdint>

#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/specaug/specaug.h"

namespace spk {

namespace {

using namespace cuda_launch;

__global__ void specaug_kernel(const float* x, float* y, int64_t total, int64_t F, int64_t T,
                               const int32_t* __restrict__ masks, int n_time, int n_freq) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  const int n = n_time + n_freq;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t t = i % T, bf = i / T, f = bf % F, b = bf / F;
    const int32_t* m = masks + b * n * 2;
    bool masked = false;
    for (int k = 0; k < n_time; ++k) masked |= t >= m[2 * k] && t < m[2 * k + 1];
    for (int k = n_time; k < n; ++k) masked |= f >= m[2 * k] && f < m[2 * k + 1];
    y[i] = masked ? 0.0f : x[i];
  }
}

}  // namespace

void specaug_forward_cuda(const float* x, float* y, int64_t B, int64_t F, int64_t T, const int32_t* masks,
                          int64_t n_time, int64_t n_freq, void* stream) {
  const int64_t total = B * F * T;
  if (total == 0) return;
  specaug_kernel<<<blocks_for(total), kThreads, 0, cudaStream_t(stream)>>>(x, y, total, F, T, masks, int(n_time),
                                                                            int(n_freq));
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace spk
