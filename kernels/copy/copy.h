// Copies, casts and fills on raw buffers.
//   strided_copy: dst[view] = src[view] for two strided views of the same shape and element size.
//   cast:         dense n-element conversion between dtypes (f16/bf16 round to nearest even).
//   fill:         dense n-element fill with a value converted to the dtype.
// The CUDA versions run on the engine's current stream (stream passed as void*).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/common/dtype.h"

namespace spk {

void strided_copy_cpu(const void* src, const int64_t* src_strides, void* dst, const int64_t* dst_strides,
                      const int64_t* shape, int ndim, size_t elem_size);
void cast_cpu(const void* src, DType src_type, void* dst, DType dst_type, int64_t n);
void fill_cpu(void* dst, DType type, int64_t n, double value);

void strided_copy_cuda(const void* src, const int64_t* src_strides, void* dst, const int64_t* dst_strides,
                       const int64_t* shape, int ndim, size_t elem_size, void* stream);
void cast_cuda(const void* src, DType src_type, void* dst, DType dst_type, int64_t n, void* stream);
void fill_cuda(void* dst, DType type, int64_t n, double value, void* stream);

}  // namespace spk
