// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based
// generator. Element i of a fill is philox(key = seed, counter = offset + i), so a value depends only on
// (seed, offset, i) — the same on CPU and GPU, for any thread count or launch shape.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/half.h"   // SPK_HD

namespace spk {

struct Philox4 { uint32_t v[4]; };

SPK_HD Philox4 philox4x32_10(uint64_t counter, uint64_t key) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0x9e3779b9u, c3 = 0x243f6a88u;
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
    uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c1 = uint32_t(p1); c3 = uint32_t(p0); c0 = n0; c2 = n2;
    k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 53 random bits.
SPK_HD double philox_uniform(uint64_t counter, uint64_t key) {
  Philox4 r = philox4x32_10(counter, key);
  uint64_t bits = (uint64_t(r.v[0]) << 21) ^ uint64_t(r.v[1] >> 11);
  return double(bits & ((uint64_t(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Standard normal by Box-Muller on the two halves of one Philox block.
SPK_HD double philox_normal(uint64_t counter, uint64_t key) {
  Philox4 r = philox4x32_10(counter, key);
  double u1 = (double((uint64_t(r.v[0]) << 20) ^ r.v[1]) + 1.0) * (1.0 / 4503599627370497.0);  // (0, 1]
  double u2 = double(r.v[2]) * (1.0 / 4294967296.0);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

}  // namespace spk
