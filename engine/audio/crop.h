// voxceleb_trainer's loadWAV cropping (DatasetLoader.py, soundfile era), reproduced exactly:
//
//   max_audio = max_frames * 160 + 240                       (200 -> 32 240 samples = 2.015 s at 16 kHz)
//   if len <= max_audio: wrap-pad (numpy 'wrap', appended at the end) to len' = max_audio + 1,
//                        i.e. padded[i] = audio[i % len]
//   train: start = int(U[0,1) * (len' - max_audio)), crop = padded[start, start + max_audio)
//   eval:  starts = int(linspace(0, len' - max_audio, num_eval)) (numpy's linspace: i * (stop / (num - 1)),
//          the last one exactly stop), num_eval crops of max_audio
//   eval with eval_frames == 0: the whole file as one crop
//
// What the code really returns for files that needed padding (len <= max_audio, len' - max_audio = 1):
//   train: start is always int(U * 1) = 0, so the crop is the first max_audio samples of the periodic
//          extension; the extra padded sample is never used.
//   eval:  linspace(0, 1, num_eval) truncates to 0 for all but the last crop, which starts at 1.
//   eval_frames == 0: max_audio = 240, so a file of <= 240 samples comes back wrap-padded to 241 samples;
//          any longer file comes back whole and unpadded.
//
// The functions come in two forms: on a decoded waveform (the spec, used by tests and the eval reader), and
// on a file (train_crop_from_file) which reads only the needed frames by seeking when the file is already at
// the target rate.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/audio/audio_file.h"
#include "engine/rng.h"

namespace spk::audio {

inline int64_t max_audio_samples(int64_t max_frames) { return max_frames * 160 + 240; }

// The random part of a training crop: int(u * (len' - max_audio)), len' = max(len, max_audio + 1).
int64_t train_crop_start(int64_t len, int64_t max_audio, double u);

// Crop start positions for evaluation: int(linspace(0, len' - max_audio, num_eval)[i]).
std::vector<int64_t> eval_crop_starts(int64_t len, int64_t max_audio, int64_t num_eval);

// out[i] = x[i % n], i in [0, out_len): numpy.pad(x, (0, out_len - n), 'wrap') for out_len >= n.
std::vector<float> wrap_pad(const float* x, int64_t n, int64_t out_len);

// One training crop of max_audio samples from a decoded waveform; draws one uniform from rng.
std::vector<float> train_crop(const std::vector<float>& audio, int64_t max_frames, Rng& rng);
void train_crop(const float* audio, int64_t len, int64_t max_frames, Rng& rng, float* out);

// Evaluation crops, row-major (num_eval, max_audio); with eval_frames == 0 a single row of the whole
// (possibly 241-sample padded) file. rows / cols return the shape.
struct EvalCrops {
  int64_t rows = 0, cols = 0;
  std::vector<float> data;   // (rows, cols)
};
EvalCrops eval_crops(const std::vector<float>& audio, int64_t eval_frames, int64_t num_eval);

// The same with the crop length in samples (max_audio) instead of max_frames: augmentation noise crops.
void random_crop(const float* audio, int64_t len, int64_t max_audio, Rng& rng, float* out);
void random_crop_from_file(const std::string& path, int64_t max_audio, int sample_rate, Rng& rng, float* out);

// A training crop straight from a file: audio_info, then either one seek + read of max_audio frames (file at
// sample_rate and longer than max_audio), a whole read + wrap-pad (short file), or a whole read + resample
// (other rate). Draws exactly one uniform from rng in every case, so the stream does not depend on the file.
void train_crop_from_file(const std::string& path, int64_t max_frames, int sample_rate, Rng& rng, float* out);
std::vector<float> train_crop_from_file(const std::string& path, int64_t max_frames, int sample_rate, Rng& rng);
// The same on frames [first, last) of the file at its own rate (a Kaldi segment, lists.h's segment_frames): the
// crop is what train_crop_from_file gives for a file holding just those frames. Throws naming the file when the
// range is empty or past the file's end.
void random_crop_from_segment(const std::string& path, double start_s, double end_s, int64_t max_audio,
                              int sample_rate, Rng& rng, float* out);

}  // namespace spk::audio
