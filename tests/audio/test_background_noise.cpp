// pyannote's AddNoise (engine/audio/background_noise.h): the mix sits at the drawn SNR (measured on the mixed
// signal against the clean one, within 0.1 dB) inside [--noise_snr_min, --noise_snr_max], noise pieces cover the
// chunk (short files concatenated, long ones cropped), the clean level is kept, draws are reproducible, noise
// files come from a folder, a list or MUSAN's noise/ category, and bad input names the flag or the file.
#include <cmath>
#include <set>

#include "audio/audio_test_util.h"
#include "engine/audio/augment.h"
#include "engine/audio/background_noise.h"
#include "engine/audio/loader.h"
#include "engine/check.h"
#include "support/check.h"

using namespace spk::audio;
using spk::test::TempDir;

namespace {

doctest::Contains has(const std::string& s) { return doctest::Contains(s.c_str()); }

std::vector<float> white(int64_t n, uint64_t seed, double amp) {
  spk::Rng r(seed);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = float(r.uniform(-amp, amp));
  return x;
}

double snr_db(const std::vector<float>& clean, const std::vector<float>& mixed) {
  double s = 0, d = 0;
  for (size_t i = 0; i < clean.size(); ++i) {
    s += double(clean[i]) * clean[i];
    d += (double(mixed[i]) - clean[i]) * (double(mixed[i]) - clean[i]);
  }
  return 10 * std::log10(s / d);
}

}  // namespace

TEST_CASE("background noise: the mix is at the drawn SNR, inside the range, for short and long noise files") {
  TempDir dir;
  // Noise files of very different levels and lengths: 0.1 s (many pieces per chunk) to 2 s (cropped).
  const std::vector<std::string> files = {dir.file("n/a.wav"), dir.file("n/b.wav"), dir.file("n/c.wav")};
  spk::test::write_wav16(files[0], white(1600, 1, 0.02));
  spk::test::write_wav16(files[1], white(32000, 2, 0.5));
  spk::test::write_wav16(files[2], spk::test::sine(5000, 300, 16000, 0.3));
  const BackgroundNoise noise(files, 10, 20);
  const int64_t n = 24000;
  const std::vector<float> clean = spk::test::sine(n, 220, 16000, 0.25);
  std::set<size_t> piece_counts;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    CAPTURE(seed);
    std::vector<float> x = clean;
    spk::Rng rng(seed);
    const NoiseRecord rec = noise.add(x.data(), n, rng);
    CHECK(rec.snr_db >= 10);
    CHECK(rec.snr_db <= 20);
    CHECK(std::abs(snr_db(clean, x) - rec.snr_db) < 0.1);
    CHECK(std::abs(snr_db(clean, x) - rec.snr_db) < 1e-3);   // in fact far closer: only the 1e-8 and rounding
    piece_counts.insert(rec.files.size());
    // Reproducible from the stream.
    std::vector<float> y = clean;
    spk::Rng again(seed);
    noise.add(y.data(), n, again);
    CHECK(x == y);
  }
  CHECK(piece_counts.size() >= 2);   // some chunks needed several pieces, some one
}

TEST_CASE("background noise: a fixed SNR, the pieces needed to cover the chunk, the clean level kept") {
  TempDir dir;
  const std::string f = dir.file("short.wav");
  spk::test::write_wav16(f, white(3000, 5, 0.3));
  for (double snr : {-5.0, 0.0, 12.5, 30.0}) {
    CAPTURE(snr);
    const BackgroundNoise noise({f}, snr, snr);
    std::vector<float> x = spk::test::sine(10000, 440, 16000, 0.4);
    const std::vector<float> clean = x;
    spk::Rng rng(9);
    const NoiseRecord rec = noise.add(x.data(), 10000, rng);
    CHECK(rec.snr_db == snr);
    CHECK(rec.files.size() == 4);   // 3000 + 3000 + 3000 + 1000 samples
    CHECK(std::abs(snr_db(clean, x) - snr) < 0.1);
  }
  // A silent chunk stays silent (its level is kept).
  const BackgroundNoise noise({f}, 10, 20);
  std::vector<float> z(4000, 0.0f);
  spk::Rng rng(1);
  noise.add(z.data(), 4000, rng);
  for (float v : z) CHECK(v == 0.0f);
}

TEST_CASE("background noise: files from a folder, a list, or MUSAN's noise category") {
  TempDir dir;
  spk::test::write_wav16(dir.file("musan/noise/free-sound/n1.wav"), white(2000, 1, 0.1));
  spk::test::write_wav16(dir.file("musan/noise/sound-bible/n2.wav"), white(2000, 2, 0.1));
  spk::test::write_wav16(dir.file("musan/music/fma/m1.wav"), white(2000, 3, 0.1));
  spk::test::write_text(dir.file("musan/noise/README"), "not audio");
  const auto from_musan = musan_files(dir.file("musan"), AugType::noise);
  REQUIRE(from_musan.size() == 2);
  CHECK(from_musan[0].find("n1.wav") != std::string::npos);
  CHECK(audio_files(dir.file("musan/noise"), "--noise_path") == from_musan);
  spk::test::write_text(dir.file("lists/noise.txt"), "../musan/noise/sound-bible/n2.wav\n\n");
  const auto listed = audio_files(dir.file("lists/noise.txt"), "--noise_path");
  REQUIRE(listed.size() == 1);
  CHECK(listed[0] == from_musan[1]);
  CHECK_THROWS_WITH_AS(audio_files(dir.file("nowhere"), "--noise_path"),
                       has("--noise_path '" + dir.file("nowhere") + "' is neither a directory nor a list file"),
                       spk::Error);
}

TEST_CASE("background noise: bad input names the flag or the file") {
  TempDir dir;
  const std::string f = dir.file("n.wav");
  spk::test::write_wav16(f, white(2000, 1, 0.1));
  CHECK_THROWS_WITH_AS(BackgroundNoise({f}, 20, 10), has("--noise_snr_min 20 dB is above --noise_snr_max 10 dB"),
                       spk::Error);
  CHECK_THROWS_WITH_AS(check_snr_range(std::nan(""), 10), has("--noise_snr_min must be a finite number"), spk::Error);
  CHECK_THROWS_WITH_AS(check_snr_range(0, INFINITY), has("--noise_snr_max must be a finite number"), spk::Error);
  CHECK_NOTHROW(check_snr_range(5, 5));
  CHECK_THROWS_WITH_AS(BackgroundNoise({}, 10, 20), has("no noise files"), spk::Error);
  CHECK_THROWS_WITH_AS(BackgroundNoise({f, dir.file("missing.wav")}, 10, 20), has(dir.file("missing.wav")),
                       spk::Error);
}

TEST_CASE("background noise: the voxceleb loader adds it to every crop (--add_noise without --sampler pyannote)") {
  TempDir dir;
  std::string list;
  for (int s = 0; s < 3; ++s)
    for (int u = 0; u < 2; ++u) {
      const std::string rel = "s" + std::to_string(s) + "/u" + std::to_string(u) + ".wav";
      spk::test::write_wav16(dir.file("wav/" + rel), spk::test::sine(5000, 150 + 40 * s + 9 * u, 16000, 0.3));
      list += "spk" + std::to_string(s) + " " + rel + "\n";
    }
  spk::test::write_text(dir.file("list.txt"), list);
  const TrainList tl = read_train_list(dir.file("list.txt"), (dir.path / "wav").string());
  spk::test::write_wav16(dir.file("n.wav"), white(9000, 4, 0.2));
  LoaderConfig cfg;
  cfg.sampler.batch_size = 3;
  cfg.sampler.seed = 5;
  cfg.max_frames = 20;
  cfg.num_workers = 0;
  TrainLoader clean(tl, cfg);
  cfg.noise = std::make_shared<BackgroundNoise>(std::vector<std::string>{dir.file("n.wav")}, 12, 12);
  TrainLoader noisy(tl, cfg);
  clean.start_epoch(1);
  noisy.start_epoch(1);
  Batch a, b;
  int64_t rows = 0;
  while (clean.next(a)) {
    REQUIRE(noisy.next(b));
    REQUIRE(a.wav.shape() == b.wav.shape());
    const int64_t L = a.samples;
    for (int64_t r = 0; r < a.wav.size(0); ++r, ++rows) {
      const std::vector<float> x(a.wav.data<float>() + r * L, a.wav.data<float>() + (r + 1) * L);
      const std::vector<float> y(b.wav.data<float>() + r * L, b.wav.data<float>() + (r + 1) * L);
      CHECK(std::abs(snr_db(x, y) - 12.0) < 0.1);
    }
  }
  CHECK(rows >= 3);
}
