// pyannote-audio's AddNoise (pyannote/audio/augmentation/noise.py at 562b74e4): background noise at a random SNR,
// the only augmentation of Coria et al. 2020 (MUSAN noise, SNR 10-20 dB), applied to every training chunk.
//
// Per chunk x of n samples:
//   1. noise: files drawn uniformly (with replacement) until n samples are covered; a file longer than what is
//      still needed gives a crop of that length at a uniform random position, a shorter one is taken whole;
//      each piece is scaled to unit RMS (piece / (rms + 1e-8)) and the pieces are concatenated;
//   2. snr ~ U[snr_min, snr_max] dB, alpha = 10^(-snr / 20);
//   3. x = x + alpha · rms(x) · noise.
// pyannote returns normalize(x) + alpha · noise, which is step 3 divided by rms(x): the same mix at unit level.
// We keep the clean chunk's level, because our log-mel front ends, unlike pyannote's SincNet with waveform
// normalisation, are not scale-invariant and evaluation crops are not normalised. Either way the SNR of the
// mix, 10 log10(Σ x² / Σ (mix - x)²), is snr (up to the 1e-8 and float rounding), which the tests measure.
// A silent chunk (rms 0) stays silent.
//
// Noise files: any list of audio files; the recipe takes every file of --noise_path (a folder or a list file) or
// MUSAN's noise/ category of --musan_path (pyannote's MUSAN.Collection.BackgroundNoise). Their lengths are read
// from the headers once, at construction, so a missing or corrupt noise file is an error before any training.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/rng.h"

namespace spk::audio {

struct NoiseRecord {
  std::vector<std::string> files;   // the pieces, in order
  double snr_db = 0;
};

class BackgroundNoise {
 public:
  // Throws spk::Error for an empty list, an unreadable file (named), or an SNR range that is not finite or has
  // snr_min > snr_max (naming --noise_snr_min / --noise_snr_max).
  BackgroundNoise(std::vector<std::string> files, double snr_min, double snr_max, int sample_rate = 16000);

  // Adds noise to x[0:n] in place; draws from rng.
  NoiseRecord add(float* x, int64_t n, Rng& rng) const;

  const std::vector<std::string>& files() const { return files_; }
  double snr_min() const { return snr_min_; }
  double snr_max() const { return snr_max_; }

 private:
  std::vector<std::string> files_;
  std::vector<int64_t> lengths_;   // samples at sample_rate_, from the headers
  double snr_min_, snr_max_;
  int sample_rate_;
};

// The SNR range alone, for checks before any work: throws spk::Error naming the flag.
void check_snr_range(double snr_min, double snr_max);

}  // namespace spk::audio
