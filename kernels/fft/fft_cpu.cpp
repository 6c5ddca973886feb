#include <cmath>
#include <map>
#include <utility>
#include <vector>

#include "kernels/fft/fft.h"

namespace spk {

bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

int64_t next_pow2(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// Twiddles exp(-2πi k / n), k < n/2, computed once in double per (thread, n, T) and reused: recomputing
// them with sin/cos on every call dominated the filterbank's CPU time.
template <class T>
static const std::vector<std::complex<T>>& twiddles(int64_t n) {
  thread_local std::map<int64_t, std::vector<std::complex<T>>> cache;
  auto& w = cache[n];
  if (w.empty() && n > 1) {
    w.resize(size_t(n / 2));
    for (int64_t k = 0; k < n / 2; ++k)
      w[size_t(k)] = {T(std::cos(2.0 * M_PI * double(k) / double(n))), T(-std::sin(2.0 * M_PI * double(k) / double(n)))};
  }
  return w;
}

template <class T>
void fft_inplace_cpu(std::complex<T>* a, int64_t n, bool inverse) {
  // Bit-reversal permutation, then log2(n) butterfly passes; the stage of length len uses every
  // (n/len)-th twiddle of the size-n table (conjugated for the inverse).
  for (int64_t i = 1, j = 0; i < n; ++i) {
    int64_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  const auto& tw = twiddles<T>(n);
  for (int64_t len = 2; len <= n; len <<= 1) {
    const int64_t half = len / 2, step = n / len;
    for (int64_t k = 0; k < half; ++k) {
      const std::complex<T> t = tw[size_t(k * step)];
      const std::complex<T> w = inverse ? std::conj(t) : t;
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
