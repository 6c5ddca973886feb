// CPU reference of the SpecAugment masks (kernels/specaug/specaug.h): per (b, f) row, a masked bin is all zeros;
// otherwise the row is copied and each time interval of row b zeroed over it.
#include <algorithm>
#include <cstring>

#include "kernels/specaug/specaug.h"

namespace spk {

template <class T>
void specaug_forward_cpu(const T* x, T* y, int64_t B, int64_t F, int64_t T_, const int32_t* masks, int64_t n_time,
                         int64_t n_freq) {
  const int64_t n = n_time + n_freq;
  for (int64_t b = 0; b < B; ++b) {
    const int32_t* m = masks + b * n * 2;
    for (int64_t f = 0; f < F; ++f) {
      const T* xr = x + (b * F + f) * T_;
      T* yr = y + (b * F + f) * T_;
      bool bin_masked = false;
      for (int64_t k = n_time; k < n; ++k) bin_masked |= f >= m[2 * k] && f < m[2 * k + 1];
      if (bin_masked) {
        std::fill(yr, yr + T_, T(0));
        continue;
      }
      if (yr != xr) std::memcpy(yr, xr, size_t(T_) * sizeof(T));
      for (int64_t k = 0; k < n_time; ++k) {
        // Clamped to [0, T): an interval is a pure function of the draw, so the kernel never trusts it to fit.
        const int64_t t0 = std::clamp<int64_t>(m[2 * k], 0, T_), t1 = std::clamp<int64_t>(m[2 * k + 1], 0, T_);
        if (t0 < t1) std::fill(yr + t0, yr + t1, T(0));
      }
    }
  }
}

#define SPK_INSTANTIATE(T)                                                                                  \
  template void specaug_forward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, const int32_t*, int64_t, int64_t);
SPK_INSTANTIATE(float)
SPK_INSTANTIATE(double)

}  // namespace spk
