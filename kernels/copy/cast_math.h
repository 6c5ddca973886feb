// Element conversion rules shared by the CPU and CUDA casts (one definition, so they cannot drift): every
// value goes through double, exact for all f32/f16/bf16/i32 values and for |i64| < 2^53 (labels, indices).
#pragma once
#include <cstdint>

#include "kernels/common/dtype.h"
#include "kernels/common/half.h"   // SPK_HD, f16/bf16 conversions

namespace spk {

SPK_HD double load_as_double(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f32: return ((const float*)p)[i];
    case DType::f64: return ((const double*)p)[i];
    case DType::f16: return f16_to_f32(((const uint16_t*)p)[i]);
    case DType::bf16: return bf16_to_f32(((const uint16_t*)p)[i]);
    case DType::i32: return ((const int32_t*)p)[i];
    case DType::i64: return double(((const int64_t*)p)[i]);
  }
  return 0;
}

SPK_HD void store_from_double(void* p, DType t, int64_t i, double v) {
  switch (t) {
    case DType::f32: ((float*)p)[i] = float(v); break;
    case DType::f64: ((double*)p)[i] = v; break;
    case DType::f16: ((uint16_t*)p)[i] = f32_to_f16(float(v)); break;
    case DType::bf16: ((uint16_t*)p)[i] = f32_to_bf16(float(v)); break;
    case DType::i32: ((int32_t*)p)[i] = int32_t(v); break;
    case DType::i64: ((int64_t*)p)[i] = int64_t(v); break;
  }
}

}  // namespace spk
