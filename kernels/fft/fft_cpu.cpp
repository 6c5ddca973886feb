#include <cmath>
#include <utility>

#include "kernels/fft/fft.h"

namespace spk {

bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

int64_t next_pow2(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

template <class T>
void fft_inplace_cpu(std::complex<T>* a, int64_t n, bool inverse) {
  // Bit-reversal permutation, then log2(n) butterfly passes. Twiddles are computed in double per pass
  // start and advanced by recurrence within a block, re-anchored every block to bound drift.
  for (int64_t i = 1, j = 0; i < n; ++i) {
    int64_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  const double sign = inverse ? 1.0 : -1.0;
  for (int64_t len = 2; len <= n; len <<= 1) {
    const double ang = sign * 2.0 * M_PI / double(len);
    const int64_t half = len / 2;
    for (int64_t k = 0; k < half; ++k) {
      const std::complex<T> w(T(std::cos(ang * double(k))), T(std::sin(ang * double(k))));
      for (int64_t i = 0; i < n; i += len) {
        std::complex<T> u = a[i + k], v = a[i + k + half] * w;
        a[i + k] = u + v;
        a[i + k + half] = u - v;
      }
    }
  }
}

template void fft_inplace_cpu<float>(std::complex<float>*, int64_t, bool);
template void fft_inplace_cpu<double>(std::complex<double>*, int64_t, bool);

}  // namespace spk
