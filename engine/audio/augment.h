// voxceleb_trainer --augment (DatasetLoader.AugmentWAV), per training crop:
//   type = uniform over {none, reverb, music, speech, noise} (augtype = randint(0, 4))
//   additive (music / speech / noise): clean_db = 10 log10(mean(x²) + 1e-4); k files drawn without
//     replacement (noise 1, speech U{3..7}, music 1), each cropped like a training crop (random start,
//     wrap-padded) to the crop length; per file snr ~ U[lo, hi] (noise [0, 15], speech [13, 20],
//     music [5, 15] dB), noise_db = 10 log10(mean(n²) + 1e-4);
//     x += Σ sqrt(10^((clean_db - noise_db - snr) / 10)) · n        (all gains from the clean crop's level)
//   reverb: a random RIR h, h /= sqrt(Σ h²), x = (x * h)[0 : len(x)]   (full convolution, no delay compensation)
// Differences from voxceleb_trainer, both harmless: when a category has fewer files than k, all its files are
// used (Python's random.sample would raise); RIRs at another rate are resampled to the crop's rate.
//
// Sources: MUSAN as a directory (scanned recursively for .wav/.flac/.ogg; the category is the first folder
// under the root: noise/, speech/, music/ — as VT's musan_split layout, or the original musan/ layout) or as a
// list file with lines `category path` (or `path`, the category taken from a noise|speech|music folder in the
// path). RIRs as a directory (every audio file below it) or a list file with one path per line. Relative paths
// in list files are taken relative to the list file's folder. Files are sorted, so draws are reproducible.
//
// Long noise files are fine: noise crops are seeking reads (train_crop_from_file), so MUSAN needs no 5-s split.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/audio/fft_conv.h"   // fft_convolve_head
#include "engine/rng.h"

namespace spk::audio {

enum class AugType { none = 0, reverb = 1, music = 2, speech = 3, noise = 4 };
const char* aug_type_name(AugType t);

struct NoiseCategory {
  double snr_lo, snr_hi;     // dB
  int64_t count_lo, count_hi;   // files mixed, inclusive
};
// voxceleb_trainer's noisesnr / numnoise.
constexpr NoiseCategory kMusicSpec{5, 15, 1, 1};
constexpr NoiseCategory kSpeechSpec{13, 20, 3, 7};
constexpr NoiseCategory kNoiseSpec{0, 15, 1, 1};

// What one call did, for tests and logs.
struct AugmentRecord {
  AugType type = AugType::none;
  std::vector<std::string> files;   // noise files or the RIR
  std::vector<double> snr_db;       // per noise file
};

// 10 log10(mean(x²) + 1e-4), in double.
double power_db(const float* x, int64_t n);
// x += Σ_i sqrt(10^((clean_db - power_db(noise_i) - snr_i) / 10)) · noise_i, clean_db from x before mixing.
void mix_noises(float* x, int64_t n, const std::vector<std::vector<float>>& noises, const std::vector<double>& snr_db);
// x = (x * (h / ||h||))[0 : n] by FFT convolution. Throws for an all-zero h.
void reverberate(float* x, int64_t n, const float* h, int64_t h_len);

// One MUSAN category's files (sorted) from a MUSAN directory or list file, as the Augmenter reads them.
std::vector<std::string> musan_files(const std::string& musan, AugType category);
// Every audio file below a directory, or the paths of a list file (one a line, relative to the list's folder),
// sorted. flag names the setting in messages (e.g. "--rir_path").
std::vector<std::string> audio_files(const std::string& dir_or_list, const std::string& flag);

class Augmenter {
 public:
  // musan / rir: directory or list file. Throws unless every category (music, speech, noise, RIR) has files.
  // sample_rate: the crops' rate.
  Augmenter(const std::string& musan, const std::string& rir, int sample_rate = 16000);
  // Explicit file lists (index by AugType::music / speech / noise).
  Augmenter(std::vector<std::string> music, std::vector<std::string> speech, std::vector<std::string> noise,
            std::vector<std::string> rirs, int sample_rate = 16000);

  // The VT recipe: draws the type uniformly over the five, then applies it to x[0:n] in place.
  AugmentRecord augment(float* x, int64_t n, Rng& rng) const;
  AugmentRecord apply(AugType type, float* x, int64_t n, Rng& rng) const;

  const std::vector<std::string>& files(AugType t) const;   // music, speech, noise or reverb (RIRs)

 private:
  std::array<std::vector<std::string>, 5> files_;   // indexed by AugType
  int sample_rate_;
};

}  // namespace spk::audio
