// libsndfile decoding / libsamplerate resampling behind audio_file.h. See the header for the semantics.
#include "engine/audio/audio_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <samplerate.h>
#include <sndfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>

#include "engine/check.h"

namespace spk::audio {
namespace {

// sf_strerror(nullptr) reads a process-wide error slot, so two threads failing at once could swap messages.
// Failures are rare: re-open under a lock to diagnose one reliably.
std::mutex g_diagnose_mutex;

[[noreturn]] void fail_open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) SPK_FAIL("audio file '", path, "': no such file");
    SPK_FAIL("audio file '", path, "': cannot read: ", std::strerror(e));
  }
  ::close(fd);
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) SPK_FAIL("audio file '", path, "': is a directory");
  std::string why;
  {
    std::lock_guard<std::mutex> lock(g_diagnose_mutex);
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (f) {
      sf_close(f);
      why = "open failed transiently";
    } else {
      why = sf_strerror(nullptr);
    }
  }
  SPK_FAIL("audio file '", path, "': corrupt or unsupported audio format (libsndfile: ", why, ")");
}

std::string format_name(int format) {
  auto name = [](int cmd, int fmt) -> std::string {
    SF_FORMAT_INFO fi{};
    fi.format = fmt;
    if (sf_command(nullptr, cmd, &fi, sizeof(fi)) == 0 && fi.name) return fi.name;
    return "0x" + std::to_string(fmt);
  };
  return name(SFC_GET_FORMAT_INFO, format & SF_FORMAT_TYPEMASK) + " " +
         name(SFC_GET_FORMAT_INFO, format & SF_FORMAT_SUBMASK);
}

int src_type(ResampleQuality q) {
  switch (q) {
    case ResampleQuality::best: return SRC_SINC_BEST_QUALITY;
    case ResampleQuality::medium: return SRC_SINC_MEDIUM_QUALITY;
    case ResampleQuality::fastest: return SRC_SINC_FASTEST;
  }
  return SRC_SINC_MEDIUM_QUALITY;
}

}  // namespace

AudioReader::AudioReader(const std::string& path) : path_(path) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) fail_open(path);
  if (info.channels < 1 || info.samplerate < 1) {
    sf_close(f);
    SPK_FAIL("audio file '", path, "': corrupt header (", info.channels, " channels, ", info.samplerate, " Hz)");
  }
  if (info.frames <= 0) {
    sf_close(f);
    SPK_FAIL("audio file '", path, "': empty (0 frames)");
  }
  f_ = f;
  frames_ = info.frames;
  sample_rate_ = info.samplerate;
  channels_ = info.channels;
  format_ = info.format;
}

AudioReader::~AudioReader() { sf_close(static_cast<SNDFILE*>(f_)); }

void AudioReader::short_read(int64_t ended_at) {
  const char* e = sf_strerror(static_cast<SNDFILE*>(f_));
  SPK_FAIL("audio file '", path_, "': corrupt: read ", ended_at, " of ", frames_, " frames the header promised",
           (e && *e && std::strcmp(e, "No Error.") != 0) ? std::string(" (libsndfile: ") + e + ")" : std::string());
}

void AudioReader::read_mono(int64_t start, int64_t count, float* out) {
  SNDFILE* f = static_cast<SNDFILE*>(f_);
  SPK_CHECK(start >= 0 && count >= 0 && start + count <= frames_, "audio file '", path_, "': frames [", start, ", ",
            start + count, ") outside the file's ", frames_, " frames");
  if (count == 0) return;
  if (sf_seek(f, start, SEEK_SET) != start)
    SPK_FAIL("audio file '", path_, "': seek to frame ", start, " failed (libsndfile: ", sf_strerror(f), ")");
  const int ch = channels_;
  if (ch == 1 && (format_ & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16) {
    // The common VoxCeleb case: raw int16 and our own (vectorised) scaling, bit-identical to libsndfile's
    // float path (float(v) * (1 / 32768)), which was a quarter of the crop time.
    thread_local std::vector<short> pcm;
    pcm.resize(size_t(count));
    sf_count_t got = sf_readf_short(f, pcm.data(), count);
    if (got != count) short_read(start + got);
    const short* src = pcm.data();
    for (int64_t i = 0; i < count; ++i) out[i] = float(src[i]) * (1.0f / 32768.0f);
    return;
  }
  if (ch == 1) {
    sf_count_t got = sf_readf_float(f, out, count);
    if (got != count) short_read(start + got);
    return;
  }
  // Interleaved (frames, channels) in blocks, averaged to mono.
  constexpr int64_t kBlock = 4096;
  buf_.resize(size_t(kBlock * ch));
  const float inv = 1.0f / float(ch);
  for (int64_t done = 0; done < count;) {
    const int64_t want = std::min(kBlock, count - done);
    sf_count_t got = sf_readf_float(f, buf_.data(), want);
    if (got != want) short_read(start + done + got);
    for (int64_t i = 0; i < want; ++i) {
      float s = 0;
      for (int c = 0; c < ch; ++c) s += buf_[size_t(i * ch + c)];
      out[done + i] = s * inv;
    }
    done += want;
  }
}

std::vector<float> AudioReader::read_all(int target_rate, ResampleQuality quality) {
  // The frame count is the header's claim: a damaged or hostile file can claim 2^36 frames (FLAC) in a few
  // bytes. Refuse claims past the cap before anything is allocated, and below it grow the buffer block by block
  // as frames really arrive, so memory follows the bytes decoded, never the header.
  if (frames_ > kMaxReadAllFrames)
    SPK_FAIL("audio file '", path_, "': header claims ", frames_, " frames, more than the ", kMaxReadAllFrames,
             " spk decodes whole (2^28, 4.6 h at 16 kHz); split the file");
  const bool resampled = target_rate > 0 && sample_rate_ != target_rate;
  if (resampled && double(frames_) * double(target_rate) / double(sample_rate_) > double(kMaxReadAllFrames))
    SPK_FAIL("audio file '", path_, "': ", frames_, " frames at ", sample_rate_, " Hz resample to more than ",
             kMaxReadAllFrames, " frames at ", target_rate, " Hz");
  constexpr int64_t kBlock = int64_t(1) << 18;
  std::vector<float> x;
  for (int64_t done = 0; done < frames_;) {
    const int64_t want = std::min(kBlock, frames_ - done);
    x.resize(size_t(done + want));
    read_mono(done, want, x.data() + done);
    done += want;
  }
  if (!resampled) return x;
  try {
    return resample(x.data(), frames_, sample_rate_, target_rate, quality);
  } catch (const Error& e) {
    SPK_FAIL("audio file '", path_, "': ", e.what());
  }
}

AudioInfo audio_info(const std::string& path) {
  AudioReader in(path);
  AudioInfo a;
  a.frames = in.frames();
  a.sample_rate = in.sample_rate();
  a.channels = in.channels();
  a.format = in.format();
  a.format_name = format_name(a.format);
  return a;
}

std::vector<float> read_audio(const std::string& path, int target_rate, ResampleQuality quality) {
  return AudioReader(path).read_all(target_rate, quality);
}

void read_audio_frames(const std::string& path, int64_t start, int64_t count, float* out) {
  AudioReader(path).read_mono(start, count, out);
}

std::vector<float> read_audio_frames(const std::string& path, int64_t start, int64_t count) {
  std::vector<float> x(size_t(std::max<int64_t>(count, 0)));
  read_audio_frames(path, start, count, x.data());
  return x;
}

std::vector<float> resample(const float* x, int64_t n, int from_rate, int to_rate, ResampleQuality quality) {
  SPK_CHECK(from_rate > 0 && to_rate > 0, "resample: rates must be positive, got ", from_rate, " -> ", to_rate);
  if (from_rate == to_rate || n == 0) return std::vector<float>(x, x + n);
  const double ratio = double(to_rate) / double(from_rate);
  SPK_CHECK(src_is_valid_ratio(ratio), "resample: ratio ", to_rate, "/", from_rate, " outside libsamplerate's range");
  int err = 0;
  SRC_STATE* st = src_new(src_type(quality), 1, &err);
  SPK_CHECK(st != nullptr, "resample: src_new failed: ", src_strerror(err));
  std::vector<float> y(size_t(std::ceil(double(n) * ratio)) + 64);
  int64_t in_done = 0, out_done = 0;
  for (;;) {
    SRC_DATA d{};
    d.data_in = x + in_done;
    d.input_frames = long(n - in_done);
    if (out_done + 1024 > int64_t(y.size())) y.resize(y.size() + 4096);
    d.data_out = y.data() + out_done;
    d.output_frames = long(int64_t(y.size()) - out_done);
    d.end_of_input = 1;
    d.src_ratio = ratio;
    err = src_process(st, &d);
    if (err) {
      src_delete(st);
      SPK_FAIL("resample ", from_rate, " -> ", to_rate, " Hz: ", src_strerror(err));
    }
    in_done += d.input_frames_used;
    out_done += d.output_frames_gen;
    if (d.input_frames_used == 0 && d.output_frames_gen == 0) break;
  }
  src_delete(st);
  y.resize(size_t(out_done));
  return y;
}

void write_audio(const std::string& path, const float* data, int64_t frames, int channels, int sample_rate,
                 AudioFormat format) {
  SF_INFO info{};
  info.channels = channels;
  info.samplerate = sample_rate;
  switch (format) {
    case AudioFormat::wav_pcm16: info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16; break;
    case AudioFormat::wav_pcm24: info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24; break;
    case AudioFormat::wav_pcm32: info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_32; break;
    case AudioFormat::wav_float: info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT; break;
    case AudioFormat::flac_pcm16: info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16; break;
    case AudioFormat::flac_pcm24: info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_24; break;
    case AudioFormat::ogg_vorbis: info.format = SF_FORMAT_OGG | SF_FORMAT_VORBIS; break;
  }
  SPK_CHECK(sf_format_check(&info), "write_audio '", path, "': libsndfile cannot write ", channels, " channels at ",
            sample_rate, " Hz in format ", int(format));
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) SPK_FAIL("write_audio '", path, "': ", sf_strerror(nullptr));
  // Integer formats clip instead of wrapping for samples at or beyond full scale.
  sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  sf_count_t wrote = sf_writef_float(f, data, frames);
  std::string err = sf_strerror(f);
  sf_close(f);
  SPK_CHECK(wrote == frames, "write_audio '", path, "': wrote ", wrote, " of ", frames, " frames: ", err);
}

void write_audio(const std::string& path, const std::vector<float>& mono, int sample_rate, AudioFormat format) {
  write_audio(path, mono.data(), int64_t(mono.size()), 1, sample_rate, format);
}

}  // namespace spk::audio
