// Iterative radix-2 complex FFT on the CPU, in place, length a power of two.
//   forward: X[k] = Σ_n x[n] e^{-2πi kn/N};  inverse: x[n] = Σ_k X[k] e^{+2πi kn/N} (unnormalised: divide by N).
// Used by FFT convolution (reverberation) and as a reference for the filterbank DFT.
#pragma once
#include <complex>
#include <cstdint>

namespace spk {

bool is_pow2(int64_t n);
int64_t next_pow2(int64_t n);                       // smallest power of two >= n (n >= 1)
template <class T> void fft_inplace_cpu(std::complex<T>* a, int64_t n, bool inverse);

}  // namespace spk
