// Seeded, counter-based randomness (Philox4x32-10, kernels/common/philox.h).
// An Rng is (seed, offset). Each draw reserves a block of counters and advances the offset, so a run is
// reproducible from its seed, independent of thread count, and its state (two integers) goes into checkpoints.
#pragma once
#include <cstdint>

namespace spk {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }

  // Reserve n counters: returns the first; values of a bulk fill are philox(first + i, seed).
  uint64_t reserve(uint64_t n) { uint64_t o = offset_; offset_ += n; return o; }

  double uniform();                       // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal();                        // N(0, 1)
  int64_t randint(int64_t lo, int64_t hi);   // uniform integer in [lo, hi)
  // A child stream: for worker i of a pool, or per-epoch sampler seeds (seed + epoch, as voxceleb_trainer).
  Rng fork(uint64_t stream) const;

 private:
  uint64_t seed_, offset_;
};

}  // namespace spk
