// loadWAV cropping; the semantics and the short-file cases are spelled out in crop.h.
#include "engine/audio/crop.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/check.h"

namespace spk::audio {

int64_t train_crop_start(int64_t len, int64_t max_audio, double u) {
  const int64_t padded = std::max(len, max_audio + 1);
  // numpy.int64(random.random() * (audiosize - max_audio)): truncation toward zero of a non-negative double.
  return int64_t(u * double(padded - max_audio));
}

std::vector<int64_t> eval_crop_starts(int64_t len, int64_t max_audio, int64_t num_eval) {
  SPK_CHECK(num_eval >= 1, "eval crops: num_eval must be >= 1, got ", num_eval);
  const int64_t padded = std::max(len, max_audio + 1);
  const double stop = double(padded - max_audio);
  std::vector<int64_t> starts(static_cast<size_t>(num_eval));
  // numpy.linspace(0, stop, num): step = stop / (num - 1); y[i] = i * step; y[-1] = stop exactly.
  const double step = num_eval > 1 ? stop / double(num_eval - 1) : 0.0;
  for (int64_t i = 0; i < num_eval; ++i) starts[size_t(i)] = int64_t(double(i) * step);
  if (num_eval > 1) starts.back() = int64_t(stop);
  return starts;
}

std::vector<float> wrap_pad(const float* x, int64_t n, int64_t out_len) {
  SPK_CHECK(n >= 1 && out_len >= n, "wrap_pad: need 1 <= n <= out_len, got n=", n, " out_len=", out_len);
  std::vector<float> y(static_cast<size_t>(out_len));
  for (int64_t i = 0; i < out_len; i += n) std::memcpy(&y[size_t(i)], x, size_t(std::min(n, out_len - i)) * sizeof(float));
  return y;
}

void train_crop(const float* audio, int64_t len, int64_t max_frames, Rng& rng, float* out) {
  SPK_CHECK(max_frames >= 1, "train crop: max_frames must be >= 1, got ", max_frames);
  random_crop(audio, len, max_audio_samples(max_frames), rng, out);
}

void random_crop(const float* audio, int64_t len, int64_t max_audio, Rng& rng, float* out) {
  SPK_CHECK(max_audio >= 1, "random crop: length must be >= 1, got ", max_audio);
  SPK_CHECK(len >= 1, "random crop: empty waveform");
  const int64_t start = train_crop_start(len, max_audio, rng.uniform());
  if (len > max_audio) {
    std::memcpy(out, audio + start, size_t(max_audio) * sizeof(float));
    return;
  }
  // Periodic extension: out[i] = audio[(start + i) % len].
  for (int64_t i = 0; i < max_audio; ++i) out[i] = audio[(start + i) % len];
}

std::vector<float> train_crop(const std::vector<float>& audio, int64_t max_frames, Rng& rng) {
  std::vector<float> out(size_t(max_audio_samples(max_frames)));
  train_crop(audio.data(), int64_t(audio.size()), max_frames, rng, out.data());
  return out;
}

EvalCrops eval_crops(const std::vector<float>& audio, int64_t eval_frames, int64_t num_eval) {
  SPK_CHECK(eval_frames >= 0, "eval crops: eval_frames must be >= 0, got ", eval_frames);
  const int64_t len = int64_t(audio.size());
  SPK_CHECK(len >= 1, "eval crops: empty waveform");
  const int64_t max_audio = max_audio_samples(eval_frames);
  std::vector<float> padded = len <= max_audio ? wrap_pad(audio.data(), len, max_audio + 1) : audio;
  EvalCrops c;
  if (eval_frames == 0) {
    c.rows = 1;
    c.cols = int64_t(padded.size());
    c.data = std::move(padded);
    return c;
  }
  const std::vector<int64_t> starts = eval_crop_starts(len, max_audio, num_eval);
  c.rows = num_eval;
  c.cols = max_audio;
  c.data.resize(size_t(num_eval * max_audio));
  for (int64_t r = 0; r < num_eval; ++r)
    std::memcpy(&c.data[size_t(r * max_audio)], &padded[size_t(starts[size_t(r)])], size_t(max_audio) * sizeof(float));
  return c;
}

void train_crop_from_file(const std::string& path, int64_t max_frames, int sample_rate, Rng& rng, float* out) {
  SPK_CHECK(max_frames >= 1, "train crop: max_frames must be >= 1, got ", max_frames);
  random_crop_from_file(path, max_audio_samples(max_frames), sample_rate, rng, out);
}

void random_crop_from_file(const std::string& path, int64_t max_audio, int sample_rate, Rng& rng, float* out) {
  SPK_CHECK(max_audio >= 1, "random crop: length must be >= 1, got ", max_audio);
  AudioReader in(path);
  if (in.sample_rate() == sample_rate && in.frames() > max_audio) {
    // The common case: read only the crop.
    const int64_t start = train_crop_start(in.frames(), max_audio, rng.uniform());
    in.read_mono(start, max_audio, out);
    return;
  }
  const std::vector<float> x = in.read_all(sample_rate);
  SPK_CHECK(!x.empty(), "audio file '", path, "': empty after resampling");
  random_crop(x.data(), int64_t(x.size()), max_audio, rng, out);
}

void random_crop_from_segment(const std::string& path, double start_s, double end_s, int64_t max_audio,
                              int sample_rate, Rng& rng, float* out) {
  SPK_CHECK(max_audio >= 1, "random crop: length must be >= 1, got ", max_audio);
  AudioReader in(path);
  const int64_t first = std::llround(start_s * in.sample_rate()), last = std::llround(end_s * in.sample_rate());
  SPK_CHECK(first >= 0 && last > first && last <= in.frames(), "audio file '", path, "': segment [", start_s, ", ",
            end_s, ") s is frames [", first, ", ", last, ") of a file of ", in.frames(), " frames");
  const int64_t len = last - first;
  if (in.sample_rate() == sample_rate && len > max_audio) {
    in.read_mono(first + train_crop_start(len, max_audio, rng.uniform()), max_audio, out);
    return;
  }
  std::vector<float> x(static_cast<size_t>(len));
  in.read_mono(first, len, x.data());
  if (in.sample_rate() != sample_rate) x = resample(x.data(), len, in.sample_rate(), sample_rate);
  SPK_CHECK(!x.empty(), "audio file '", path, "': segment empty after resampling");
  random_crop(x.data(), int64_t(x.size()), max_audio, rng, out);
}

std::vector<float> train_crop_from_file(const std::string& path, int64_t max_frames, int sample_rate, Rng& rng) {
  std::vector<float> out(size_t(max_audio_samples(max_frames)));
  train_crop_from_file(path, max_frames, sample_rate, rng, out.data());
  return out;
}

}  // namespace spk::audio
