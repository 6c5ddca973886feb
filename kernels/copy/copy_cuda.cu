// CUDA copies, casts and fills (kernels/copy/copy.h), on the engine's stream.
//   strided_copy: dims that nest in both views are merged first, so most real views (slices, the batch
//                 dims of a permute) shrink to one or two dims; a copy that is dense on both sides is a
//                 single cudaMemcpyAsync. Otherwise one thread per element decomposes its row-major index,
//                 in 32-bit arithmetic when every offset fits (64-bit division is several times slower).
//   cast:         one thread per element with exactly the CPU's conversion rules (through double, f16/bf16
//                 via kernels/common/half.h), so a cast is bit-identical on both devices. The one known
//                 difference: a float out of an integer type's range (or NaN) converted to i32/i64 is
//                 undefined in C++ and saturates on the GPU; no caller converts such values.
//   fill:         the value's bit pattern is made on the host with the CPU's rules, then written as raw
//                 16/32/64-bit words (all-zero patterns use cudaMemsetAsync).
#include <cstring>

#include "kernels/common/cuda_check.h"
#include "kernels/common/cuda_launch.cuh"
#include "kernels/common/half.h"
#include "kernels/common/strided.h"
#include "kernels/copy/cast_math.h"
#include "kernels/copy/copy.h"

namespace spk {

namespace {

using namespace cuda_launch;
using CopyLayout = TwoViews;   // s0: source strides, s1: destination strides

// I: the index type (uint32_t when everything fits, else int64_t).
template <class T, class I>
__global__ void strided_copy_kernel(const T* __restrict__ src, T* __restrict__ dst, CopyLayout L, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    I so, dof;
    two_view_offsets(L, i, so, dof);
    dst[dof] = src[so];
  }
}

template <class T>
void launch_strided_copy(const void* src, void* dst, const CopyLayout& L, int64_t n, cudaStream_t s) {
  const int64_t lim = int64_t(1) << 31;
  const int64_t ms = max_offset(L, L.s0), md = max_offset(L, L.s1);
  const bool small = n < lim && ms >= 0 && md >= 0 && ms < lim && md < lim;
  if (small)
    strided_copy_kernel<T, uint32_t><<<blocks_for(n), kThreads, 0, s>>>((const T*)src, (T*)dst, L, n);
  else
    strided_copy_kernel<T, int64_t><<<blocks_for(n), kThreads, 0, s>>>((const T*)src, (T*)dst, L, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

// ---- casts: the CPU's rules (kernels/copy/cast_math.h), element by element ----

// The dtype switches are uniform across the grid, so they cost a few instructions, not divergence.
__global__ void cast_kernel(const void* __restrict__ src, DType st, void* __restrict__ dst, DType dt, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    store_from_double(dst, dt, i, load_as_double(src, st, i));
}

template <class W>
__global__ void fill_kernel(W* __restrict__ dst, W pattern, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) dst[i] = pattern;
}

template <class W>
void launch_fill(void* dst, uint64_t pattern, int64_t n, cudaStream_t s) {
  fill_kernel<W><<<blocks_for(n), kThreads, 0, s>>>((W*)dst, W(pattern), n);
  SPK_KERNEL_LAUNCH_CHECK();
}

}  // namespace

void strided_copy_cuda(const void* src, const int64_t* src_strides, void* dst, const int64_t* dst_strides,
                       const int64_t* shape, int ndim, size_t elem_size, void* stream) {
  SPK_CHECK(ndim >= 0 && ndim <= kMaxDims, "strided_copy_cuda: ", ndim, " dims (at most ", kMaxDims, ")");
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  if (n == 0) return;
  auto s = cudaStream_t(stream);
  const CopyLayout L = collapse(shape, src_strides, dst_strides, ndim);
  // Dense on both sides (or a single element): one DMA copy.
  if (L.ndim == 0 || (L.ndim == 1 && L.s0[0] == 1 && L.s1[0] == 1)) {
    SPK_CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(n) * elem_size, cudaMemcpyDeviceToDevice, s));
    return;
  }
  switch (elem_size) {
    case 1: launch_strided_copy<uint8_t>(src, dst, L, n, s); break;
    case 2: launch_strided_copy<uint16_t>(src, dst, L, n, s); break;
    case 4: launch_strided_copy<uint32_t>(src, dst, L, n, s); break;
    case 8: launch_strided_copy<uint64_t>(src, dst, L, n, s); break;
    default: SPK_FAIL("strided_copy_cuda: unsupported element size ", elem_size, " bytes");
  }
}

void cast_cuda(const void* src, DType src_type, void* dst, DType dst_type, int64_t n, void* stream) {
  if (n <= 0) return;
  auto s = cudaStream_t(stream);
  if (src_type == dst_type) {
    SPK_CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(n) * dtype_size(src_type), cudaMemcpyDeviceToDevice, s));
    return;
  }
  cast_kernel<<<blocks_for(n), kThreads, 0, s>>>(src, src_type, dst, dst_type, n);
  SPK_KERNEL_LAUNCH_CHECK();
}

void fill_cuda(void* dst, DType type, int64_t n, double value, void* stream) {
  if (n <= 0) return;
  auto s = cudaStream_t(stream);
  // The bit pattern of `value` in `type`, by the CPU's store rules (kernels/copy/copy_cpu.cpp).
  uint64_t pattern = 0;
  switch (type) {
    case DType::f32: { float v = float(value); std::memcpy(&pattern, &v, 4); break; }
    case DType::f64: { std::memcpy(&pattern, &value, 8); break; }
    case DType::f16: pattern = f32_to_f16(float(value)); break;
    case DType::bf16: pattern = f32_to_bf16(float(value)); break;
    case DType::i32: { int32_t v = int32_t(value); std::memcpy(&pattern, &v, 4); break; }
    case DType::i64: { int64_t v = int64_t(value); std::memcpy(&pattern, &v, 8); break; }
  }
  const size_t es = dtype_size(type);
  if (pattern == 0) {
    SPK_CUDA_CHECK(cudaMemsetAsync(dst, 0, size_t(n) * es, s));
    return;
  }
  switch (es) {
    case 2: launch_fill<uint16_t>(dst, pattern, n, s); break;
    case 4: launch_fill<uint32_t>(dst, pattern, n, s); break;
    case 8: launch_fill<uint64_t>(dst, pattern, n, s); break;
    default: SPK_FAIL("fill_cuda: unsupported dtype ", dtype_name(type));
  }
}

}  // namespace spk
