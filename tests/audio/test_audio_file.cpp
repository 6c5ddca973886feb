// Audio decoding: format round trips against files written by libsndfile itself, mono mixing, seeking reads,
// error messages, and resampling of sines (frequency and level preserved).
#include <sys/stat.h>

#include <algorithm>
#include <cmath>

#include "audio/audio_test_util.h"
#include "engine/audio/audio_file.h"
#include "engine/check.h"
#include "support/check.h"

using namespace spk::audio;
using spk::test::TempDir;

namespace {

std::vector<int> test_ints() {
  return {0, 1, -1, 12345, -23456, 32767, -32768, 777, -4242, 30000, -30000, 5};
}

// Zero-crossing frequency estimate with linear interpolation of the crossing times, over [lo, hi).
double zc_frequency(const std::vector<float>& x, double rate, size_t lo, size_t hi) {
  double first = -1, last = -1;
  int64_t count = 0;
  for (size_t i = lo + 1; i < hi; ++i) {
    if ((x[i - 1] < 0) != (x[i] < 0)) {
      double t = double(i - 1) + double(x[i - 1]) / double(x[i - 1] - x[i]);
      if (first < 0) first = t;
      last = t;
      ++count;
    }
  }
  return double(count - 1) / (2.0 * (last - first) / rate);
}

double rms_db(const std::vector<float>& x, size_t lo, size_t hi) {
  double s = 0;
  for (size_t i = lo; i < hi; ++i) s += double(x[i]) * x[i];
  return 10 * std::log10(s / double(hi - lo));
}

}  // namespace

TEST_CASE("audio: PCM and float WAV/FLAC decode to soundfile's float scale exactly") {
  TempDir dir;
  const auto ints = test_ints();
  SUBCASE("16-bit: v / 32768") {
    std::vector<short> s(ints.begin(), ints.end());
    for (auto [name, fmt] : {std::pair{"a.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16}, {"a.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16}}) {
      spk::test::sf_write(dir.file(name), fmt, 16000, 1, s);
      auto x = read_audio(dir.file(name));
      REQUIRE(x.size() == s.size());
      for (size_t i = 0; i < s.size(); ++i) CHECK(x[i] == float(s[i]) / 32768.0f);
    }
  }
  SUBCASE("24-bit: v / 2^23") {
    std::vector<int> s;
    for (int v : ints) s.push_back(v * 192);   // 24-bit values (|v| < 2^23)
    std::vector<int> w;   // sf_writef_int takes 32-bit ints; PCM_24 keeps the top 24 bits
    for (int v : s) w.push_back(v * 256);
    for (auto [name, fmt] : {std::pair{"b.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24}, {"b.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24}}) {
      spk::test::sf_write(dir.file(name), fmt, 16000, 1, w);
      auto x = read_audio(dir.file(name));
      REQUIRE(x.size() == s.size());
      for (size_t i = 0; i < s.size(); ++i) CHECK(x[i] == float(s[i]) / 8388608.0f);
    }
  }
  SUBCASE("32-bit: v / 2^31") {
    std::vector<int> w;
    for (int v : ints) w.push_back(v * 65536 + (v & 0xffff));
    spk::test::sf_write(dir.file("c.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_32, 16000, 1, w);
    auto x = read_audio(dir.file("c.wav"));
    REQUIRE(x.size() == w.size());
    for (size_t i = 0; i < w.size(); ++i) CHECK(x[i] == doctest::Approx(double(w[i]) / 2147483648.0).epsilon(1e-7));
  }
  SUBCASE("float WAV is bit exact") {
    std::vector<float> v = spk::test::sine(1000, 440, 16000, 0.9);
    spk::test::sf_write(dir.file("d.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, v);
    CHECK(read_audio(dir.file("d.wav")) == v);
  }
}

TEST_CASE("audio: multi-channel files are mixed to mono by the channel mean") {
  TempDir dir;
  const int64_t n = 500;
  auto l = spk::test::sine(n, 300, 16000, 0.6), r = spk::test::sine(n, 700, 16000, 0.3, 1.0);
  SUBCASE("stereo float WAV") {
    std::vector<float> inter;
    for (int64_t i = 0; i < n; ++i) inter.insert(inter.end(), {l[size_t(i)], r[size_t(i)]});
    spk::test::sf_write(dir.file("s.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, inter);
    auto x = read_audio(dir.file("s.wav"));
    REQUIRE(int64_t(x.size()) == n);
    for (int64_t i = 0; i < n; ++i) CHECK(x[size_t(i)] == (l[size_t(i)] + r[size_t(i)]) * 0.5f);
  }
  SUBCASE("3-channel 16-bit FLAC") {
    std::vector<short> inter;
    for (int64_t i = 0; i < 9000; ++i) inter.push_back(short((i * 37) % 20000 - 10000));
    spk::test::sf_write(dir.file("t.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 3, inter);
    auto x = read_audio(dir.file("t.flac"));
    REQUIRE(x.size() == 3000);
    for (size_t i = 0; i < 3000; i += 7) {
      float s = float(inter[3 * i]) / 32768.f + float(inter[3 * i + 1]) / 32768.f + float(inter[3 * i + 2]) / 32768.f;
      CHECK(x[i] == doctest::Approx(s / 3.f).epsilon(1e-6));
    }
    auto info = audio_info(dir.file("t.flac"));
    CHECK(info.channels == 3);
    CHECK(info.frames == 3000);
  }
}

TEST_CASE("audio: OGG/Vorbis decodes close to the original") {
  TempDir dir;
  auto v = spk::test::sine(16000, 440, 16000, 0.5);
  spk::test::sf_write(dir.file("o.ogg"), SF_FORMAT_OGG | SF_FORMAT_VORBIS, 16000, 1, v);
  auto info = audio_info(dir.file("o.ogg"));
  CHECK(info.frames == 16000);
  CHECK(info.sample_rate == 16000);
  auto x = read_audio(dir.file("o.ogg"));
  REQUIRE(x.size() == v.size());
  double err = 0, sig = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    err += (x[i] - v[i]) * double(x[i] - v[i]);
    sig += double(v[i]) * v[i];
  }
  CHECK(10 * std::log10(sig / err) > 20.0);   // lossy codec: 20 dB SNR is a loose, format-independent bar
  // A seeking read returns the same samples as the full decode.
  auto part = read_audio_frames(dir.file("o.ogg"), 5000, 3000);
  for (size_t i = 0; i < part.size(); ++i) CHECK(part[i] == doctest::Approx(x[5000 + i]).epsilon(1e-5).scale(1e-5));
}

TEST_CASE("audio: info reads the header; seeking reads equal slices of the full decode") {
  TempDir dir;
  std::vector<short> s(48000);
  for (size_t i = 0; i < s.size(); ++i) s[i] = short((int(i) * 7919) % 65536 - 32768);
  for (auto [name, fmt] : {std::pair{"x.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16}, {"x.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16}}) {
    CAPTURE(name);
    spk::test::sf_write(dir.file(name), fmt, 22050, 1, s);
    auto info = audio_info(dir.file(name));
    CHECK(info.frames == 48000);
    CHECK(info.sample_rate == 22050);
    CHECK(info.channels == 1);
    CHECK(info.format_name.find(std::string(name).find("wav") != std::string::npos ? "WAV" : "FLAC") != std::string::npos);
    auto full = read_audio(dir.file(name), 0);   // keep the file's rate
    REQUIRE(full.size() == s.size());
    for (auto [start, count] : {std::pair<int64_t, int64_t>{0, 10}, {12345, 32240}, {47990, 10}, {48000, 0}}) {
      auto part = read_audio_frames(dir.file(name), start, count);
      REQUIRE(int64_t(part.size()) == count);
      CHECK(std::equal(part.begin(), part.end(), full.begin() + start));
    }
    CHECK_THROWS_WITH_AS(read_audio_frames(dir.file(name), 47990, 11), doctest::Contains("outside the file's 48000 frames"),
                         spk::Error);
  }
}

TEST_CASE("audio: errors name the file and say what is wrong") {
  TempDir dir;
  SUBCASE("missing") {
    const std::string p = dir.file("nope.wav");
    CHECK_THROWS_WITH_AS(read_audio(p), doctest::Contains(("'" + p + "': no such file").c_str()), spk::Error);
    CHECK_THROWS_WITH_AS(audio_info(p), doctest::Contains("no such file"), spk::Error);
  }
  SUBCASE("empty (0 frames)") {
    const std::string p = dir.file("empty.wav");
    spk::test::sf_write(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, std::vector<short>{});
    CHECK_THROWS_WITH_AS(read_audio(p), doctest::Contains(("'" + p + "': empty (0 frames)").c_str()), spk::Error);
    CHECK_THROWS_WITH_AS(read_audio_frames(p, 0, 0), doctest::Contains("empty (0 frames)"), spk::Error);
  }
  SUBCASE("corrupt / unsupported format") {
    const std::string p = dir.file("junk.wav");
    spk::test::write_text(p, "this is not audio, just some text that libsndfile cannot parse\n");
    CHECK_THROWS_WITH_AS(read_audio(p), doctest::Contains(("'" + p + "': corrupt or unsupported audio format (libsndfile: ").c_str()),
                         spk::Error);
  }
  SUBCASE("truncated RIFF header") {
    const std::string good = dir.file("good.wav"), cut = dir.file("cut.wav");
    spk::test::sf_write(good, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, std::vector<short>(1000, 100));
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    spk::test::write_text(cut, bytes.substr(0, 20));
    CHECK_THROWS_WITH_AS(read_audio(cut), doctest::Contains(("'" + cut + "'").c_str()), spk::Error);
  }
  SUBCASE("FLAC cut in the middle of its frames: a short read") {
    const std::string good = dir.file("good.flac"), cut = dir.file("cut.flac");
    std::vector<short> v(20000);
    for (size_t i = 0; i < v.size(); ++i) v[i] = short((i * 7919) % 20000 - 10000);
    spk::test::sf_write(good, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, v);
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    spk::test::write_text(cut, bytes.substr(0, bytes.size() / 3));
    CHECK(audio_info(cut).frames == 20000);   // the header still promises every frame
    CHECK_THROWS_WITH_AS(read_audio(cut), doctest::Contains(("'" + cut + "': corrupt: read ").c_str()), spk::Error);
  }
  SUBCASE("directory") {
    CHECK_THROWS_WITH_AS(read_audio(dir.path.string()), doctest::Contains(("'" + dir.path.string() + "': is a directory").c_str()), spk::Error);
  }
  SUBCASE("unreadable") {
    if (geteuid() == 0) {
      MESSAGE("running as root: permission test skipped");
      return;
    }
    const std::string p = dir.file("locked.wav");
    spk::test::sf_write(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, std::vector<short>(100, 1));
    chmod(p.c_str(), 0);
    CHECK_THROWS_WITH_AS(read_audio(p), doctest::Contains(("'" + p + "': cannot read: Permission denied").c_str()), spk::Error);
  }
}

TEST_CASE("audio: resampling to 16 kHz preserves frequency and level") {
  TempDir dir;
  for (int rate : {8000, 22050, 44100, 48000}) {
    std::vector<double> freqs = {440, 1000, 3000};
    if (rate > 16000) freqs.push_back(6000);
    for (double f : freqs) {
      SUBCASE((std::to_string(rate) + " Hz, " + std::to_string(int(f)) + " Hz tone").c_str()) {
        const int64_t n = rate;   // 1 s
        const std::string p = dir.file("sine.wav");
        spk::test::sf_write(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, rate, 1, spk::test::sine(n, f, rate, 0.5));
        auto y = read_audio(p, 16000);
        CHECK(std::abs(int64_t(y.size()) - 16000) <= 1);
        // Skip 50 ms at each end (filter start-up / end-of-input flush).
        const size_t lo = 800, hi = y.size() - 800;
        CHECK(zc_frequency(y, 16000, lo, hi) == doctest::Approx(f).epsilon(1e-4));
        const double want_db = 10 * std::log10(0.125);   // RMS² of a 0.5-amplitude sine
        CHECK(std::abs(rms_db(y, lo, hi) - want_db) < 0.1);
      }
    }
  }
  SUBCASE("best quality also works and same-rate input is returned unchanged") {
    auto x = spk::test::sine(4410, 1000, 44100);
    auto y = resample(x.data(), int64_t(x.size()), 44100, 16000, ResampleQuality::best);
    CHECK(std::abs(int64_t(y.size()) - 1600) <= 1);
    CHECK(resample(x.data(), int64_t(x.size()), 16000, 16000) == x);
  }
}

TEST_CASE("audio: write_audio round trip") {
  TempDir dir;
  auto v = spk::test::sine(800, 500, 16000, 0.25);
  write_audio(dir.file("w.wav"), v, 16000, AudioFormat::wav_float);
  CHECK(read_audio(dir.file("w.wav")) == v);
  write_audio(dir.file("w.flac"), v, 16000, AudioFormat::flac_pcm16);
  auto x = read_audio(dir.file("w.flac"));
  REQUIRE(x.size() == v.size());
  for (size_t i = 0; i < v.size(); ++i) CHECK(std::abs(x[i] - v[i]) <= 2.0f / 32768.f);
}
