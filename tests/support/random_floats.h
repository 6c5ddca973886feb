// Random test inputs: n floats uniform in [-1, 1) from spk::Rng(seed), the same on every run and machine.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/rng.h"

namespace spk::test {

inline std::vector<float> random_floats(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float(rng.uniform() * 2 - 1);
  return v;
}

}  // namespace spk::test
