// v where keep, else +0, without a branch. A ReLU or its mask on a conv's output meets a random sign, so a
// branch mispredicts about half the time, and GCC compiles `c ? v : 0` in the scalar CPU loops to a jump
// (relu_batch_norm ran at half the speed of the unfused ops, add_relu was 12 % of a ResNetSE34L step).
// The bits are those of `keep ? v : T(0)`.
#pragma once
#include <bit>
#include <cstdint>
#include <type_traits>

namespace spk {

template <class T> inline T select_or_zero(bool keep, T v) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  return std::bit_cast<T>(std::bit_cast<U>(v) & (U(0) - U(keep)));
}

// As UnaryOp::relu: v > 0 ? v : +0 (NaN and -0 give +0).
template <class T> inline T relu_of(T v) { return select_or_zero(v > T(0), v); }

}  // namespace spk
