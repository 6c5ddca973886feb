// Helpers for the audio tests: a temporary directory removed at scope exit, test signals, and files written
// directly with libsndfile (so the reader is checked against the library, not against our own writer).
#pragma once
#include <sndfile.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace spk::test {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "spk_audio_XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const {
    auto p = path / name;
    std::filesystem::create_directories(p.parent_path());
    return p.string();
  }
};

inline std::vector<float> sine(int64_t n, double freq, double rate, double amp = 0.5, double phase = 0.0) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = float(amp * std::sin(2 * M_PI * freq * double(i) / rate + phase));
  return x;
}

// Writes interleaved samples with libsndfile; T is short (PCM via sf_writef_short), int (sf_writef_int) or float.
template <class T>
void sf_write(const std::string& path, int format, int rate, int channels, const std::vector<T>& data) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) throw std::runtime_error(std::string("sf_open for write: ") + sf_strerror(nullptr));
  const sf_count_t frames = sf_count_t(data.size()) / channels;
  sf_count_t w;
  if constexpr (std::is_same_v<T, short>) w = sf_writef_short(f, data.data(), frames);
  else if constexpr (std::is_same_v<T, int>) w = sf_writef_int(f, data.data(), frames);
  else w = sf_writef_float(f, data.data(), frames);
  sf_close(f);
  if (w != frames) throw std::runtime_error("short write to " + path);
}

// A 16-bit mono WAV from float samples (clipped to [-1, 1)), for loader / sampler fixtures.
inline void write_wav16(const std::string& path, const std::vector<float>& x, int rate = 16000) {
  std::vector<short> s(x.size());
  for (size_t i = 0; i < x.size(); ++i) s[i] = short(std::lrint(std::max(-1.0f, std::min(x[i], 32767.f / 32768.f)) * 32768.f));
  sf_write(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, rate, 1, s);
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace spk::test
