// Per-view synthetic augmentation for --ssl without MUSAN/RIR; the recipe is described in view_augment.h.
#include "engine/audio/view_augment.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "engine/audio/augment.h"
#include "engine/check.h"

namespace spk::audio {

namespace {

template <class... Parts>
void require(bool ok, const Parts&... parts) {
  if (!ok) throw Error(detail::cat(parts...));
}

void check_probability(double p, const char* flag) {
  require(std::isfinite(p) && p >= 0 && p <= 1, flag, ": a probability in [0, 1], got ", p);
}

}  // namespace

void check_view_augment_config(const ViewAugmentConfig& c) {
  require(std::isfinite(c.gain_db) && c.gain_db >= 0, "--ssl_aug_gain_db: must be >= 0 dB, got ", c.gain_db);
  require(std::isfinite(c.snr_min) && std::isfinite(c.snr_max) && c.snr_min <= c.snr_max,
          "--ssl_aug_snr_min / --ssl_aug_snr_max: a finite range with min <= max, got ", c.snr_min, " .. ", c.snr_max);
  check_probability(c.reverb_prob, "--ssl_aug_reverb_prob");
  check_probability(c.lowpass_prob, "--ssl_aug_lowpass_prob");
  SPK_CHECK(c.reverb_rt60_min > 0 && c.reverb_rt60_min <= c.reverb_rt60_max, "view augment: bad RT60 range");
  SPK_CHECK(c.lowpass_min_hz > 0 && c.lowpass_min_hz <= c.lowpass_max_hz && c.lowpass_max_hz < c.sample_rate / 2.0,
            "view augment: bad low-pass range");
}

ViewAugment::ViewAugment(ViewAugmentConfig c) : c_(c) { check_view_augment_config(c_); }

void lowpass_biquad(float* x, int64_t n, double cutoff_hz, int sample_rate) {
  // RBJ audio-EQ cookbook low-pass, Q = 1/sqrt(2) (Butterworth), direct form I in double.
  const double w0 = 2 * std::numbers::pi * cutoff_hz / sample_rate, alpha = std::sin(w0) / std::sqrt(2.0);
  const double cw = std::cos(w0), a0 = 1 + alpha;
  const double b0 = (1 - cw) / 2 / a0, b1 = (1 - cw) / a0, b2 = b0, a1 = -2 * cw / a0, a2 = (1 - alpha) / a0;
  double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (int64_t t = 0; t < n; ++t) {
    const double in = x[t], y = b0 * in + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
    x2 = x1;
    x1 = in;
    y2 = y1;
    y1 = y;
    x[t] = float(y);
  }
}

ViewAugmentRecord ViewAugment::apply(float* x, int64_t n, Rng& rng) const {
  ViewAugmentRecord r;
  // 1. Synthetic room: exponentially decaying Gaussian tail behind a unit direct path.
  r.reverb = rng.uniform() < c_.reverb_prob;
  r.rt60 = rng.uniform(c_.reverb_rt60_min, c_.reverb_rt60_max);
  Rng tail_rng = rng.fork(1);   // the tail's samples: a stream of their own, so its length moves no other draw
  if (r.reverb) {
    const int64_t taps = std::max<int64_t>(2, int64_t(r.rt60 * c_.sample_rate));
    std::vector<float> h(static_cast<size_t>(taps));
    h[0] = 1.0f;
    for (int64_t t = 1; t < taps; ++t)
      h[size_t(t)] = float(tail_rng.normal() * std::exp(-6.9 * double(t) / (r.rt60 * c_.sample_rate)));
    reverberate(x, n, h.data(), taps);
  }
  // 2. Channel band limit.
  r.lowpass = rng.uniform() < c_.lowpass_prob;
  r.cutoff_hz = rng.uniform(c_.lowpass_min_hz, c_.lowpass_max_hz);
  if (r.lowpass) lowpass_biquad(x, n, r.cutoff_hz, c_.sample_rate);
  // 3. Coloured noise at an exact SNR relative to the (reverberated, filtered) crop.
  r.snr_db = rng.uniform(c_.snr_min, c_.snr_max);
  r.noise_pole = rng.uniform(-0.9, 0.9);
  Rng noise_rng = rng.fork(2);
  std::vector<double> noise(static_cast<size_t>(n));
  double y = 0, pn = 0, px = 0;
  for (int64_t t = 0; t < n; ++t) {
    y = noise_rng.normal() + r.noise_pole * y;
    noise[size_t(t)] = y;
    pn += y * y;
    px += double(x[t]) * x[t];
  }
  if (px > 0 && pn > 0) {
    const double scale = std::sqrt(px / pn * std::pow(10.0, -r.snr_db / 10));
    for (int64_t t = 0; t < n; ++t) x[t] = float(x[t] + scale * noise[size_t(t)]);
  }
  // 4. Level.
  r.gain_db = rng.uniform(-c_.gain_db, c_.gain_db);
  const float g = float(std::pow(10.0, r.gain_db / 20));
  for (int64_t t = 0; t < n; ++t) x[t] *= g;
  return r;
}

}  // namespace spk::audio
