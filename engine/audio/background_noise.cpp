// pyannote's AddNoise on a chunk; the recipe and its one difference from pyannote are in background_noise.h.
#include "engine/audio/background_noise.h"

#include <algorithm>
#include <cmath>

#include "engine/audio/audio_file.h"
#include "engine/audio/chunk_sampler.h"   // utterance_lengths, read_chunk
#include "engine/check.h"

namespace spk::audio {

namespace {

// A bad setting: a plain message that starts with the flag (no file:line or condition, unlike SPK_CHECK), which
// the recipe shows as is.
template <class... Parts>
void require(bool ok, const Parts&... parts) {
  if (!ok) throw Error(detail::cat(parts...));
}

double rms(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  return n > 0 ? std::sqrt(s / double(n)) : 0.0;
}

}  // namespace

void check_snr_range(double snr_min, double snr_max) {
  require(std::isfinite(snr_min), "--noise_snr_min must be a finite number of dB, got ", snr_min);
  require(std::isfinite(snr_max), "--noise_snr_max must be a finite number of dB, got ", snr_max);
  require(snr_min <= snr_max, "--noise_snr_min ", snr_min, " dB is above --noise_snr_max ", snr_max,
            " dB: the SNR range is empty");
}

BackgroundNoise::BackgroundNoise(std::vector<std::string> files, double snr_min, double snr_max, int sample_rate)
    : files_(std::move(files)), snr_min_(snr_min), snr_max_(snr_max), sample_rate_(sample_rate) {
  check_snr_range(snr_min, snr_max);
  SPK_CHECK(sample_rate > 0, "background noise: sample rate must be positive, got ", sample_rate);
  SPK_CHECK(!files_.empty(), "background noise: no noise files to draw from");
  lengths_ = utterance_lengths(files_, sample_rate_, false);
  for (size_t i = 0; i < files_.size(); ++i)
    SPK_CHECK(lengths_[i] >= 1, "background noise: noise file '", files_[i], "' has no samples at ", sample_rate_,
              " Hz");
}

NoiseRecord BackgroundNoise::add(float* x, int64_t n, Rng& rng) const {
  NoiseRecord rec;
  std::vector<float> noise(static_cast<size_t>(std::max<int64_t>(n, 0)));
  int64_t done = 0;
  while (done < n) {
    const size_t f = size_t(rng.randint(0, int64_t(files_.size())));
    const int64_t left = n - done;
    float* piece = noise.data() + done;
    int64_t got = 0;
    try {
      if (lengths_[f] > left) {
        read_chunk(files_[f], rng.randint(0, lengths_[f] - left + 1), left, sample_rate_, piece);
        got = left;
      } else {
        const std::vector<float> whole = read_audio(files_[f], sample_rate_);
        got = std::min<int64_t>(int64_t(whole.size()), left);
        SPK_CHECK(got >= 1, "empty after resampling");
        std::copy(whole.begin(), whole.begin() + got, piece);
      }
    } catch (const Error& e) {
      SPK_FAIL("background noise: noise file '", files_[f], "': ", e.what());
    }
    const double scale = 1.0 / (rms(piece, got) + 1e-8);
    for (int64_t i = 0; i < got; ++i) piece[i] = float(double(piece[i]) * scale);
    rec.files.push_back(files_[f]);
    done += got;
  }
  rec.snr_db = rng.uniform(snr_min_, snr_max_);
  const double gain = std::pow(10.0, -rec.snr_db / 20.0) * rms(x, n);
  for (int64_t i = 0; i < n; ++i) x[i] = float(double(x[i]) + gain * double(noise[size_t(i)]));
  return rec;
}

}  // namespace spk::audio
