// Augmentation: SNR of the mixed noise equals the drawn SNR, reverberation by FFT convolution (unit impulse is
// the identity; matches direct convolution), output length = crop length, MUSAN/RIR discovery, draw ranges.
#include <cmath>
#include <set>

#include "audio/audio_test_util.h"
#include "engine/audio/augment.h"
#include "engine/audio/crop.h"
#include "engine/check.h"
#include "support/check.h"

using namespace spk::audio;
using spk::test::TempDir;

namespace {

std::vector<float> white(int64_t n, uint64_t seed, double amp) {
  spk::Rng r(seed);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = float(r.uniform(-amp, amp));
  return x;
}

double mean_sq(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += double(v) * v;
  return s / double(x.size());
}

// A small MUSAN-like tree and a RIR tree under dir.
void make_sources(const TempDir& dir) {
  for (int i = 0; i < 2; ++i) spk::test::write_wav16(dir.file("musan/noise/free-sound/n" + std::to_string(i) + ".wav"), white(9000, 10 + i, 0.3));
  for (int i = 0; i < 9; ++i) spk::test::write_wav16(dir.file("musan/speech/librivox/s" + std::to_string(i) + ".wav"), white(7000, 20 + i, 0.2));
  for (int i = 0; i < 3; ++i) spk::test::write_wav16(dir.file("musan/music/fma/m" + std::to_string(i) + ".wav"), white(12000, 40 + i, 0.25));
  spk::test::write_text(dir.file("musan/README"), "not audio");
  std::vector<float> rir(800, 0.0f);
  rir[0] = 0.5f;
  rir[100] = 0.25f;
  spk::test::write_wav16(dir.file("rirs/smallroom/Room001/r1.wav"), rir);
  spk::test::write_wav16(dir.file("rirs/mediumroom/Room002/r2.wav"), rir);
}

}  // namespace

TEST_CASE("augment: power_db = 10 log10(mean(x²) + 1e-4)") {
  std::vector<float> x(100, 0.1f);
  CHECK(power_db(x.data(), 100) == doctest::Approx(10 * std::log10(0.01 + 1e-4)).epsilon(1e-6));
  std::vector<float> z(10, 0.0f);
  CHECK(power_db(z.data(), 10) == doctest::Approx(-40.0));
}

TEST_CASE("augment: mixed noise sits at the drawn SNR") {
  const int64_t n = 32240;
  auto clean = spk::test::sine(n, 440, 16000, 0.3);
  for (double snr : {0.0, 5.0, 13.5, 20.0}) {
    CAPTURE(snr);
    auto noise = white(n, 3, 0.5);
    auto x = clean;
    mix_noises(x.data(), n, {noise}, {snr});
    std::vector<float> added(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) added[size_t(i)] = x[size_t(i)] - clean[size_t(i)];
    // Exactly the VT gain: 10 log10 mean(a²) = clean_db - noise_db - snr + 10 log10 mean(n²).
    const double clean_db = power_db(clean.data(), n), noise_db = power_db(noise.data(), n);
    CHECK(10 * std::log10(mean_sq(added)) ==
          doctest::Approx(clean_db - noise_db - snr + 10 * std::log10(mean_sq(noise))).epsilon(1e-5));
    // And the measured SNR is the drawn one (the +1e-4 floors move it by < 0.01 dB at these levels).
    const double measured = 10 * std::log10(mean_sq(clean) / mean_sq(added));
    CHECK(std::abs(measured - snr) < 0.01);
  }
}

TEST_CASE("augment: FFT convolution equals direct convolution; unit impulse is the identity") {
  for (auto [n, m] : {std::pair<int64_t, int64_t>{1000, 1}, {1000, 37}, {1000, 300}, {1000, 2500}, {1, 1}, {2, 1}, {3, 2},
                      {5, 4}, {16, 17}, {513, 512}}) {
    CAPTURE(n);
    CAPTURE(m);
    auto x = white(n, 5, 0.5);
    auto h = white(m, 6, 0.5);
    std::vector<float> y(static_cast<size_t>(n));
    fft_convolve_head(x.data(), n, h.data(), m, y.data());
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t k = 0; k <= i && k < m; ++k) s += double(h[size_t(k)]) * x[size_t(i - k)];
      worst = std::max(worst, std::abs(s - y[size_t(i)]));
    }
    CHECK(worst < 5e-6);   // outputs reach ~3: float rounding relative to the output scale
  }
  SUBCASE("unit impulse (any scale) returns the input; a delayed one shifts it") {
    auto in = spk::test::sine(32240, 300, 16000, 0.5);
    std::vector<float> h(4000, 0.0f);
    h[0] = 0.3f;   // normalised to 1 by ||h||
    auto out = in;
    reverberate(out.data(), int64_t(out.size()), h.data(), int64_t(h.size()));
    REQUIRE(out.size() == in.size());
    double worst = 0;
    for (size_t i = 0; i < in.size(); ++i) worst = std::max(worst, double(std::abs(out[i] - in[i])));
    CHECK(worst < 1e-6);
    std::fill(h.begin(), h.end(), 0.0f);
    h[25] = -2.0f;
    out = in;
    reverberate(out.data(), int64_t(out.size()), h.data(), int64_t(h.size()));
    for (size_t i = 0; i < 25; ++i) CHECK(std::abs(out[i]) < 1e-6);
    for (size_t i = 25; i < in.size(); i += 97) CHECK(std::abs(out[i] + in[i - 25]) < 1e-6);
  }
  std::vector<float> zero(10, 0.0f), s(5, 1.0f);
  CHECK_THROWS_WITH_AS(reverberate(s.data(), 5, zero.data(), 10), doctest::Contains("RIR is all zeros"), spk::Error);
}

TEST_CASE("augment: MUSAN / RIR discovery from folders and list files") {
  TempDir dir;
  make_sources(dir);
  SUBCASE("folders, scanned recursively") {
    Augmenter a((dir.path / "musan").string(), (dir.path / "rirs").string());
    CHECK(a.files(AugType::noise).size() == 2);
    CHECK(a.files(AugType::speech).size() == 9);
    CHECK(a.files(AugType::music).size() == 3);
    CHECK(a.files(AugType::reverb).size() == 2);
    CHECK(std::is_sorted(a.files(AugType::speech).begin(), a.files(AugType::speech).end()));
  }
  SUBCASE("list files, relative to the list's folder") {
    spk::test::write_text(dir.file("musan.lst"),
                          "noise musan/noise/free-sound/n0.wav\nmusan/speech/librivox/s1.wav\nmusic " +
                              dir.file("musan/music/fma/m2.wav") + "\n");
    spk::test::write_text(dir.file("rir.lst"), "rirs/smallroom/Room001/r1.wav\n");
    Augmenter a(dir.file("musan.lst"), dir.file("rir.lst"));
    CHECK(a.files(AugType::noise) == std::vector<std::string>{dir.file("musan/noise/free-sound/n0.wav")});
    CHECK(a.files(AugType::speech) == std::vector<std::string>{dir.file("musan/speech/librivox/s1.wav")});
    CHECK(a.files(AugType::reverb) == std::vector<std::string>{dir.file("rirs/smallroom/Room001/r1.wav")});
  }
  SUBCASE("errors") {
    std::filesystem::remove_all(dir.path / "musan" / "music");
    CHECK_THROWS_WITH_AS(Augmenter((dir.path / "musan").string(), (dir.path / "rirs").string()),
                         doctest::Contains("music: 0, speech: 9, noise: 2, RIR: 2 files; every category needs at least one"),
                         spk::Error);
    spk::test::write_text(dir.file("bad.lst"), "noise a.wav\nbirds b.wav\n");
    CHECK_THROWS_WITH_AS(Augmenter(dir.file("bad.lst"), (dir.path / "rirs").string()),
                         doctest::Contains((dir.file("bad.lst") + ":2: category must be noise, speech or music, got 'birds'").c_str()),
                         spk::Error);
    CHECK_THROWS_WITH_AS(Augmenter(dir.file("nowhere"), (dir.path / "rirs").string()),
                         doctest::Contains("is neither a directory nor a list file"), spk::Error);
  }
}

TEST_CASE("augment: the VT recipe on crops — draws, ranges, SNR, length") {
  TempDir dir;
  make_sources(dir);
  Augmenter a((dir.path / "musan").string(), (dir.path / "rirs").string());
  const int64_t n = 3440;
  const auto clean = spk::test::sine(n, 220, 16000, 0.3);
  SUBCASE("noise and music: one file at an SNR in range, measured SNR = drawn SNR") {
    for (AugType t : {AugType::noise, AugType::music}) {
      const double lo = t == AugType::noise ? 0 : 5, hi = 15;
      for (uint64_t seed = 0; seed < 10; ++seed) {
        spk::Rng rng(seed);
        std::vector<float> x = clean;
        x.push_back(123.0f);   // sentinel: nothing is written past the crop
        auto rec = a.apply(t, x.data(), n, rng);
        CHECK(x.back() == 123.0f);
        x.pop_back();
        REQUIRE(rec.files.size() == 1);
        REQUIRE(rec.snr_db.size() == 1);
        CHECK(rec.snr_db[0] >= lo);
        CHECK(rec.snr_db[0] <= hi);
        std::vector<float> added(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) added[size_t(i)] = x[size_t(i)] - clean[size_t(i)];
        // The +1e-4 floors in clean_db / noise_db shift the true SNR by ~0.005 dB at these levels.
        CHECK(std::abs(10 * std::log10(mean_sq(clean) / mean_sq(added)) - rec.snr_db[0]) < 0.02);
      }
    }
  }
  SUBCASE("speech: 3..7 distinct files at SNRs in [13, 20]") {
    std::set<size_t> counts;
    for (uint64_t seed = 0; seed < 60; ++seed) {
      spk::Rng rng(seed);
      std::vector<float> x = clean;
      auto rec = a.apply(AugType::speech, x.data(), n, rng);
      CHECK(rec.files.size() >= 3);
      CHECK(rec.files.size() <= 7);
      counts.insert(rec.files.size());
      CHECK(std::set<std::string>(rec.files.begin(), rec.files.end()).size() == rec.files.size());
      for (double s : rec.snr_db) CHECK((s >= 13 && s <= 20));
    }
    CHECK(counts.count(3) == 1);
    CHECK(counts.count(7) == 1);
  }
  SUBCASE("reverb with the 2-tap RIR: h / ||h|| convolved, truncated to the crop") {
    spk::Rng rng(1);
    std::vector<float> x = clean;
    auto rec = a.apply(AugType::reverb, x.data(), n, rng);
    REQUIRE(rec.files.size() == 1);
    const double g0 = 0.5 / std::sqrt(0.25 + 0.0625), g1 = 0.25 / std::sqrt(0.25 + 0.0625);
    for (int64_t i = 0; i < n; i += 53) {
      const double want = g0 * clean[size_t(i)] + (i >= 100 ? g1 * clean[size_t(i - 100)] : 0.0);
      CHECK(std::abs(x[size_t(i)] - want) < 1e-6);
    }
  }
  SUBCASE("the five types are drawn uniformly") {
    int hist[5] = {};
    for (uint64_t seed = 0; seed < 500; ++seed) {
      spk::Rng rng(seed);
      std::vector<float> x = clean;
      hist[int(a.augment(x.data(), n, rng).type)]++;
    }
    for (int t = 0; t < 5; ++t) {
      CAPTURE(t);
      CHECK(hist[t] > 60);   // expectation 100, sd ~9
      CHECK(hist[t] < 140);
    }
  }
}
