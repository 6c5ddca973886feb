// Scalar conversions between f32 and the 16-bit storage types (IEEE f16, bfloat16), round to nearest even.
// Host and device: the CPU cast kernel and CUDA code use the same bit-exact rules.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define SPK_HD __host__ __device__ inline
#else
#define SPK_HD inline
#endif

namespace spk {

SPK_HD float bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
SPK_HD uint32_t f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

SPK_HD uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // NaN stays a quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                          // round to nearest even
  return uint16_t(u >> 16);
}
SPK_HD float bf16_to_f32(uint16_t h) { return bits_to_f32(uint32_t(h) << 16); }

SPK_HD uint16_t f32_to_f16(float f) {
  uint32_t x = f32_to_bits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return uint16_t(sign | 0x7e00u);           // NaN
  if (ax >= 0x477ff000u) return uint16_t(sign | 0x7c00u);          // overflow (>= 65520 rounds to inf)
  if (ax < 0x38800000u) {                                          // subnormal f16 or zero
    if (ax < 0x33000000u) return uint16_t(sign);                   // < 2^-25: rounds to zero
    uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;                                      // value = m * 2^(e-150) = r * 2^-24
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) r++;
    return uint16_t(sign | r);
  }
  uint32_t r = ax - 0x38000000u;                                   // rebias exponent 127 -> 15
  uint32_t out = r >> 13, rem = r & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (out & 1u))) out++;
  return uint16_t(sign | out);
}
SPK_HD float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    if (m == 0) return bits_to_f32(sign);
    float v = float(m) * (1.0f / 16777216.0f);                     // m * 2^-24
    return sign ? -v : v;
  }
  if (e == 31) return bits_to_f32(sign | 0x7f800000u | (m << 13));
  return bits_to_f32(sign | ((e + 112) << 23) | (m << 13));
}

}  // namespace spk
