#include <cmath>
#include <complex>
#include <vector>

#include "support/check.h"
#include "kernels/fft/fft.h"

TEST_CASE("fft matches the direct DFT and inverts") {
  for (int64_t n : {1, 2, 8, 64, 512}) {
    SUBCASE(("n=" + std::to_string(n)).c_str()) {
      spk::Rng rng{static_cast<uint64_t>(n)};
      std::vector<std::complex<double>> x(static_cast<size_t>(n)), X;
      for (auto& v : x) v = {rng.uniform(-1, 1), rng.uniform(-1, 1)};
      X = x;
      spk::fft_inplace_cpu(X.data(), n, false);
      double worst = 0;
      for (int64_t k = 0; k < n; ++k) {
        std::complex<double> s = 0;
        for (int64_t t = 0; t < n; ++t) s += x[size_t(t)] * std::polar(1.0, -2 * M_PI * double(k * t) / double(n));
        worst = std::max(worst, std::abs(s - X[size_t(k)]));
      }
      CHECK(worst < 1e-10 * double(n));
      spk::fft_inplace_cpu(X.data(), n, true);
      for (int64_t t = 0; t < n; ++t) CHECK(std::abs(X[size_t(t)] / double(n) - x[size_t(t)]) < 1e-12);
    }
  }
  CHECK(spk::next_pow2(400) == 512);
  CHECK(spk::is_pow2(512));
  CHECK_FALSE(spk::is_pow2(400));
}
