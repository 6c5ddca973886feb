#include "engine/rng.h"

#include "engine/check.h"
#include "kernels/common/philox.h"

namespace spk {

double Rng::uniform() { return philox_uniform(reserve(1), seed_); }
double Rng::normal() { return philox_normal(reserve(1), seed_); }

int64_t Rng::randint(int64_t lo, int64_t hi) {
  SPK_CHECK(hi > lo, "randint: empty range [", lo, ", ", hi, ")");
  uint64_t span = uint64_t(hi - lo);
  int64_t v = lo + int64_t(uniform() * double(span));
  return v < hi ? v : hi - 1;   // guard the (measure-zero) rounding up to hi
}

Rng Rng::fork(uint64_t stream) const {
  // Mix the stream id into a new key; splitmix64 keeps nearby stream ids far apart.
  uint64_t z = seed_ + 0x9e3779b97f4a7c15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return Rng(z ^ (z >> 31), 0);
}

}  // namespace spk
