// Audio file I/O for the data pipeline: decode WAV (PCM 16/24/32-bit, float), FLAC and OGG/Vorbis with
// libsndfile into float samples in [-1, 1] (libsndfile's normalisation: int16 / 32768, as Python soundfile
// gives voxceleb_trainer since 2021-04), mix channels to mono by their mean, and resample to the target
// rate with libsamplerate.
//
// Resampling quality: SRC_SINC_MEDIUM_QUALITY by default (libsamplerate's documented 97 dB SNR, 90 %
// bandwidth); SRC_SINC_BEST_QUALITY is selectable. Medium is ~3x faster than best and its 90 % passband
// (7.2 kHz of the 8 kHz 16-kHz Nyquist) covers the 40/64/80-mel front ends' band limit of 7.6-8 kHz to
// within the top mel bands.
//
// Crop reads seek (sf_seek + sf_readf_float of only the needed frames) instead of decoding the whole file;
// that is what makes 2-s crops from long files (and un-split MUSAN) cheap.
//
// Every error names the file: missing, unreadable, empty (0 frames), corrupt or unsupported format (with
// libsndfile's sf_strerror text), short read, a frame count past kMaxReadAllFrames.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace spk::audio {

constexpr int kDefaultSampleRate = 16000;
// The most frames read_all / read_audio decode from one file (before or after resampling): 2^28, 4.6 h at
// 16 kHz, 1 GiB of floats. A header claiming more is an error before any allocation, and below the cap the
// buffer grows only as frames are really decoded (a header's frame count is a claim, not a fact).
constexpr int64_t kMaxReadAllFrames = int64_t(1) << 28;

enum class ResampleQuality { best, medium, fastest };

struct AudioInfo {
  int64_t frames = 0;       // per channel, at the file's own rate
  int sample_rate = 0;
  int channels = 0;
  int format = 0;           // libsndfile SF_FORMAT_* (major | subtype)
  std::string format_name;  // e.g. "WAV PCM_16", for messages
};

// An open file (one sf_open): header fields, then any number of seeking reads. Not thread-safe; one per thread.
class AudioReader {
 public:
  explicit AudioReader(const std::string& path);   // throws for missing / unreadable / corrupt / empty files
  ~AudioReader();
  AudioReader(const AudioReader&) = delete;
  AudioReader& operator=(const AudioReader&) = delete;

  const std::string& path() const { return path_; }
  int64_t frames() const { return frames_; }
  int sample_rate() const { return sample_rate_; }
  int channels() const { return channels_; }
  int format() const { return format_; }

  // Frames [start, start + count) at the file's rate, mono (channel mean), into out[0, count).
  void read_mono(int64_t start, int64_t count, float* out);
  // The whole file, mono, resampled to target_rate (<= 0: keep the file's rate).
  std::vector<float> read_all(int target_rate = kDefaultSampleRate, ResampleQuality quality = ResampleQuality::medium);

 private:
  [[noreturn]] void short_read(int64_t ended_at);   // the file delivered frames only up to ended_at
  std::string path_;
  int64_t frames_ = 0;
  int sample_rate_ = 0, channels_ = 0, format_ = 0;
  void* f_ = nullptr;   // SNDFILE*
  std::vector<float> buf_;   // interleaved scratch for multi-channel files
};

// Header only: no sample is decoded. Throws for missing / unreadable / corrupt / empty files.
AudioInfo audio_info(const std::string& path);

// The whole file as mono float at target_rate (resampled if the file's rate differs; target_rate <= 0
// keeps the file's rate).
std::vector<float> read_audio(const std::string& path, int target_rate = kDefaultSampleRate,
                              ResampleQuality quality = ResampleQuality::medium);

// Frames [start, start + count) of the file at its own rate, mono, by seeking. Throws naming the file when
// the range is outside [0, frames] or the file delivers fewer frames than its header promised.
std::vector<float> read_audio_frames(const std::string& path, int64_t start, int64_t count);
// Same, with the header already read (saves one open when the caller has called audio_info).
void read_audio_frames(const std::string& path, int64_t start, int64_t count, float* out);

// Mono resampling of n samples from from_rate to to_rate. Output length is what libsamplerate produces
// for the whole input with end-of-input flushed: round(n * to_rate / from_rate) within one sample.
std::vector<float> resample(const float* x, int64_t n, int from_rate, int to_rate,
                            ResampleQuality quality = ResampleQuality::medium);

// Writing, for tests, tools and the demo corpus. data is interleaved (frames, channels).
enum class AudioFormat { wav_pcm16, wav_pcm24, wav_pcm32, wav_float, flac_pcm16, flac_pcm24, ogg_vorbis };
void write_audio(const std::string& path, const float* data, int64_t frames, int channels, int sample_rate,
                 AudioFormat format);
void write_audio(const std::string& path, const std::vector<float>& mono, int sample_rate,
                 AudioFormat format = AudioFormat::wav_pcm16);

}  // namespace spk::audio
