// --ssl_aug, the per-view synthetic augmentation (engine/audio/view_augment.h): the noise lands at the drawn SNR,
// the low-pass has its analytic response, the gain is the drawn one; in the loader the two views of one file get
// different draws, each equal to apply() on the clean crop with that view's stream, and the same seed gives the
// same bytes for 0, 1 and 3 workers; bad settings name their flag.
#include <cmath>
#include <cstring>
#include <numbers>

#include "audio/audio_test_util.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/loader.h"
#include "engine/audio/unlabelled_list.h"
#include "engine/audio/view_augment.h"
#include "engine/audio/view_sampler.h"
#include "engine/check.h"
#include "support/check.h"

using namespace spk::audio;
using spk::test::TempDir;

namespace {

std::vector<float> sine(int64_t n, double hz, double amp = 0.5) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) x[size_t(t)] = float(amp * std::sin(2 * std::numbers::pi * hz * double(t) / 16000));
  return x;
}

double energy(const std::vector<float>& x, size_t from = 0) {
  double e = 0;
  for (size_t i = from; i < x.size(); ++i) e += double(x[i]) * x[i];
  return e;
}

}  // namespace

TEST_CASE("view augment: noise at the drawn SNR, gain as drawn, nothing else when the probabilities are 0") {
  ViewAugmentConfig c;
  c.reverb_prob = 0;
  c.lowpass_prob = 0;
  c.gain_db = 0;
  const ViewAugment noise_only(c);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    std::vector<float> x = sine(8000, 440);
    const std::vector<float> clean = x;
    spk::Rng rng(seed);
    const ViewAugmentRecord r = noise_only.apply(x.data(), int64_t(x.size()), rng);
    CHECK(!r.reverb);
    CHECK(!r.lowpass);
    CHECK(r.gain_db == 0);
    CHECK(r.snr_db >= 5);
    CHECK(r.snr_db <= 20);
    std::vector<float> added(x.size());
    for (size_t i = 0; i < x.size(); ++i) added[i] = x[i] - clean[i];
    CHECK(10 * std::log10(energy(clean) / energy(added)) == doctest::Approx(r.snr_db).epsilon(1e-3));
  }
  ViewAugmentConfig g;
  g.reverb_prob = 0;
  g.lowpass_prob = 0;
  g.snr_min = g.snr_max = 200;   // noise far below float resolution: the gain alone shows
  const ViewAugment gain_only(g);
  std::vector<float> x = sine(4000, 300);
  const std::vector<float> clean = x;
  spk::Rng rng(3);
  const ViewAugmentRecord r = gain_only.apply(x.data(), int64_t(x.size()), rng);
  CHECK(std::abs(r.gain_db) <= 6);
  CHECK(10 * std::log10(energy(x) / energy(clean)) == doctest::Approx(r.gain_db).epsilon(1e-4));
  std::vector<float> silent(1000, 0.0f);
  gain_only.apply(silent.data(), 1000, rng);
  CHECK(energy(silent) == 0);   // a silent crop stays silent
}

TEST_CASE("view augment: the low-pass passes DC, is -3 dB at its cutoff and cuts an octave above by ~12 dB") {
  auto gain_at = [](double hz) {
    std::vector<float> x = sine(16000, hz);
    const double before = energy(x, 4000);
    lowpass_biquad(x.data(), int64_t(x.size()), 2000, 16000);
    return 10 * std::log10(energy(x, 4000) / before);   // steady state only
  };
  CHECK(std::abs(gain_at(50)) < 0.01);
  CHECK(gain_at(2000) == doctest::Approx(-3.01).epsilon(0.01));
  CHECK(gain_at(4000) < -11.5);
}

TEST_CASE("view augment: the two views of a file get their own draws; same seed, same bytes for any workers") {
  TempDir dir;
  std::string list_text;
  for (int i = 0; i < 8; ++i) {
    const std::string rel = "u" + std::to_string(i) + ".wav";
    spk::test::write_wav16(dir.file("wav/" + rel), sine(4000 + 300 * i, 200 + 50 * i));
    list_text += rel + "\n";
  }
  spk::test::write_text(dir.file("list.txt"), list_text);
  const UnlabelledList ul = read_unlabelled_list(dir.file("list.txt"), (dir.path / "wav").string());
  ViewSamplerConfig vc;
  vc.batch_size = 4;
  vc.max_frames = 20;   // 3440 samples
  vc.seed = 9;
  auto views = std::make_shared<ViewSampler>(utterance_lengths(ul.list.paths, 16000, false), vc);
  REQUIRE(views->num_batches() == 2);
  auto aug = std::make_shared<ViewAugment>(ViewAugmentConfig{});
  const int64_t N = 4, L = 3440;
  std::vector<std::vector<Batch>> runs;
  for (int workers : {0, 1, 3}) {
    LoaderConfig lc;
    lc.views = views;
    lc.view_augment = aug;
    lc.num_workers = workers;
    TrainLoader loader(ul.list, lc);
    loader.start_epoch(3);
    std::vector<Batch> got;
    Batch b;
    while (loader.next(b)) got.push_back(b);
    REQUIRE(got.size() == 2);
    if (runs.empty()) {
      for (const Batch& bt : got)
        for (int64_t n = 0; n < N; ++n) {
          const ViewItem& it = loader.view_plan().items[size_t(bt.index * N + n)];
          const std::vector<float> file = read_audio(ul.list.paths[size_t(it.utterance)], 16000);
          ViewAugmentRecord rec[2];
          for (int64_t m = 0; m < 2; ++m) {
            std::vector<float> want(file.begin() + it.start[m], file.begin() + it.start[m] + L);
            spk::Rng rng = spk::Rng(vc.seed).fork(3).fork(uint64_t(bt.index * N + n)).fork(uint64_t(m));
            rec[m] = aug->apply(want.data(), L, rng);
            CHECK(std::memcmp(bt.wav.data<float>() + (m * N + n) * L, want.data(), size_t(L) * sizeof(float)) == 0);
          }
          // Independent draws: continuous values, so equal ones would mean one stream served both views.
          CHECK(rec[0].snr_db != rec[1].snr_db);
          CHECK(rec[0].gain_db != rec[1].gain_db);
          CHECK(rec[0].noise_pole != rec[1].noise_pole);
        }
    }
    runs.push_back(std::move(got));
  }
  for (size_t r = 1; r < runs.size(); ++r)
    for (size_t b = 0; b < runs[0].size(); ++b)
      CHECK(std::memcmp(runs[r][b].wav.data<float>(), runs[0][b].wav.data<float>(), size_t(2 * N * L) * sizeof(float)) ==
            0);
}

TEST_CASE("view augment: bad settings name their flag") {
  auto fails = [](auto set, const char* flag) {
    ViewAugmentConfig c;
    set(c);
    CHECK_THROWS_WITH_AS(check_view_augment_config(c), doctest::Contains(flag), spk::Error);
  };
  fails([](ViewAugmentConfig& c) { c.gain_db = -1; }, "--ssl_aug_gain_db");
  fails([](ViewAugmentConfig& c) { c.snr_min = 30; }, "--ssl_aug_snr_min");
  fails([](ViewAugmentConfig& c) { c.reverb_prob = 1.5; }, "--ssl_aug_reverb_prob");
  fails([](ViewAugmentConfig& c) { c.lowpass_prob = -0.1; }, "--ssl_aug_lowpass_prob");
}
