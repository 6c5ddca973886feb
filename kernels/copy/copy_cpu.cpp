#include <algorithm>
#include <cstring>

#include "kernels/copy/cast_math.h"
#include "kernels/common/strided.h"
#include "kernels/copy/copy.h"

namespace spk {

template <class T>
static void copy_typed(const T* src, const int64_t* ss, T* dst, const int64_t* ds, const int64_t* shape, int ndim) {
  for_each_inner(ndim, shape, ss, ds, nullptr, [&](int64_t o0, int64_t o1, int64_t, int64_t n, int64_t s0, int64_t s1, int64_t) {
    if (s0 == 1 && s1 == 1) { std::memcpy(dst + o1, src + o0, size_t(n) * sizeof(T)); return; }
    for (int64_t i = 0; i < n; ++i) dst[o1 + i * s1] = src[o0 + i * s0];
  });
}

void strided_copy_cpu(const void* src, const int64_t* src_strides, void* dst, const int64_t* dst_strides,
                      const int64_t* shape, int ndim, size_t elem_size) {
  switch (elem_size) {
    case 1: copy_typed((const uint8_t*)src, src_strides, (uint8_t*)dst, dst_strides, shape, ndim); break;
    case 2: copy_typed((const uint16_t*)src, src_strides, (uint16_t*)dst, dst_strides, shape, ndim); break;
    case 4: copy_typed((const uint32_t*)src, src_strides, (uint32_t*)dst, dst_strides, shape, ndim); break;
    case 8: copy_typed((const uint64_t*)src, src_strides, (uint64_t*)dst, dst_strides, shape, ndim); break;
    default: break;
  }
}

void cast_cpu(const void* src, DType st, void* dst, DType dt, int64_t n) {
  if (st == dt) { std::memcpy(dst, src, size_t(n) * dtype_size(st)); return; }
  // i64 -> i64-like paths go through double, exact for |v| < 2^53 (labels and indices are far below).
  if (st == DType::f32 && dt == DType::f64) { for (int64_t i = 0; i < n; ++i) ((double*)dst)[i] = ((const float*)src)[i]; return; }
  if (st == DType::f64 && dt == DType::f32) { for (int64_t i = 0; i < n; ++i) ((float*)dst)[i] = float(((const double*)src)[i]); return; }
  if (st == DType::i32 && dt == DType::i64) { for (int64_t i = 0; i < n; ++i) ((int64_t*)dst)[i] = ((const int32_t*)src)[i]; return; }
  for (int64_t i = 0; i < n; ++i) store_from_double(dst, dt, i, load_as_double(src, st, i));
}

void fill_cpu(void* dst, DType t, int64_t n, double v) {
  // The float types as one std::fill of the converted value (what store_from_double stores), which vectorises:
  // zeroing gradient buffers element by element through the dtype switch was 1.6 % of an ECAPA CPU step.
  if (t == DType::f32) { std::fill((float*)dst, (float*)dst + n, float(v)); return; }
  if (t == DType::f64) { std::fill((double*)dst, (double*)dst + n, v); return; }
  for (int64_t i = 0; i < n; ++i) store_from_double(dst, t, i, v);
}

}  // namespace spk
