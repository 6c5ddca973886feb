// Linear convolution of real signals by real FFTs, for RIR reverberation on loader threads.
//
// Why not kernels/fft directly: fft_inplace_cpu recomputes its twiddles with cos/sin on every call and goes
// through std::complex multiplication (a libgcc call per product without -ffast-math); a 65 536-point
// transform takes ~14 ms there, i.e. ~30 ms per reverberated 2-s crop. Here a size-N real transform is a
// complex transform of N/2 points with a cached (per thread, per size) twiddle and bit-reversal plan, and
// x and h are transformed separately so the product keeps its precision relative to |X|·|H| (the
// "two real FFTs in one complex FFT" trick loses it when |h| << |x|). kernels/fft remains the reference.
#pragma once
#include <cstdint>

namespace spk::audio {

// out[0:n] = (x * h)[0:n]: the first n samples of the full linear convolution of x (n samples) with h.
void fft_convolve_head(const float* x, int64_t n, const float* h, int64_t h_len, float* out);

}  // namespace spk::audio
