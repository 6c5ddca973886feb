// Element types (kernels/ level, so kernels can name them without knowing Tensor). f32 is the compute type; f64 exists on the CPU for finite-difference gradient checks;
// f16/bf16 are storage types for mixed precision; i32/i64 hold labels and indices.
#pragma once
#include <cstddef>
#include <cstdint>

namespace spk {

enum class DType : uint8_t { f32, f64, f16, bf16, i32, i64 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::f64: case DType::i64: return 8;
    case DType::f16: case DType::bf16: return 2;
  }
  return 0;
}
constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
  }
  return "?";
}
constexpr bool is_floating(DType t) { return t != DType::i32 && t != DType::i64; }

// The C++ type behind a dtype, for typed data access: dtype_of<float> == DType::f32.
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

}  // namespace spk
