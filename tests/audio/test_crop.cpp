// loadWAV cropping against values worked out by hand (and with numpy.pad / numpy.linspace, quoted in comments).
#include <numeric>

#include "audio/audio_test_util.h"
#include "engine/audio/crop.h"
#include "support/check.h"

using namespace spk::audio;

namespace {
std::vector<float> ramp(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  std::iota(x.begin(), x.end(), 0.0f);
  return x;
}
}  // namespace

TEST_CASE("crop: max_audio = max_frames * 160 + 240") {
  CHECK(max_audio_samples(200) == 32240);
  CHECK(max_audio_samples(300) == 48240);
  CHECK(max_audio_samples(400) == 64240);
  CHECK(max_audio_samples(0) == 240);
}

TEST_CASE("crop: wrap padding is numpy.pad(x, (0, k), 'wrap')") {
  const std::vector<float> x = {1, 2, 3, 4, 5};
  // numpy.pad([1,2,3,4,5], (0, 12), 'wrap') = [1 2 3 4 5 1 2 3 4 5 1 2 3 4 5 1 2]
  CHECK(wrap_pad(x.data(), 5, 17) == std::vector<float>{1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2});
  CHECK(wrap_pad(x.data(), 5, 5) == x);
  CHECK(wrap_pad(x.data(), 1, 3) == std::vector<float>{1, 1, 1});
}

TEST_CASE("crop: training start = int(U * (len' - max_audio))") {
  CHECK(train_crop_start(1000, 240, 0.5) == 380);         // int(0.5 * 760)
  CHECK(train_crop_start(1000, 240, 0.0) == 0);
  CHECK(train_crop_start(1000, 240, 0.999999999) == 759);  // never reaches len - max_audio
  CHECK(train_crop_start(241, 240, 0.99) == 0);            // len' - max_audio = 1
  // Short files are padded to max_audio + 1: the start is always 0.
  CHECK(train_crop_start(100, 240, 0.999) == 0);
  CHECK(train_crop_start(240, 240, 0.999) == 0);
}

TEST_CASE("crop: training crops of long and short waveforms") {
  spk::Rng rng(7);
  auto crop240 = [](const std::vector<float>& x, spk::Rng& r) {
    std::vector<float> out(240);
    random_crop(x.data(), int64_t(x.size()), 240, r, out.data());
    return out;
  };
  SUBCASE("long: a contiguous window at the drawn start") {
    auto x = ramp(1000);
    spk::Rng probe = rng;
    const int64_t start = int64_t(probe.uniform() * 760.0);
    auto c = crop240(x, rng);
    REQUIRE(c.size() == 240);
    for (int64_t i = 0; i < 240; ++i) CHECK(c[size_t(i)] == float(start + i));
    CHECK(rng.offset() == probe.offset());   // exactly one draw
  }
  SUBCASE("short: the first max_audio samples of the periodic extension") {
    auto x = ramp(100);
    auto c = crop240(x, rng);
    REQUIRE(c.size() == 240);
    for (int64_t i = 0; i < 240; ++i) CHECK(c[size_t(i)] == float(i % 100));
  }
  SUBCASE("max_frames 1: 400 samples from a 1000-sample ramp") {
    auto x = ramp(1000);
    spk::Rng probe = rng;
    const int64_t start = int64_t(probe.uniform() * 600.0);
    auto c = train_crop(x, 1, rng);
    REQUIRE(c.size() == 400);
    CHECK(c.front() == float(start));
    CHECK(c.back() == float(start + 399));
  }
  SUBCASE("exactly max_audio samples is still padded (len <= max_audio)") {
    auto x = ramp(240);
    auto c = crop240(x, rng);
    CHECK(c == x);
  }
}

TEST_CASE("crop: evaluation starts are int(numpy.linspace(0, len' - max_audio, num_eval))") {
  // numpy: [int(v) for v in np.linspace(0, 31759, 10)]
  CHECK(eval_crop_starts(31759 + 32240, 32240, 10) ==
        std::vector<int64_t>{0, 3528, 7057, 10586, 14115, 17643, 21172, 24701, 28230, 31759});
  CHECK(eval_crop_starts(7 + 240, 240, 10) == std::vector<int64_t>{0, 0, 1, 2, 3, 3, 4, 5, 6, 7});
  CHECK(eval_crop_starts(3 + 240, 240, 10) == std::vector<int64_t>{0, 0, 0, 1, 1, 1, 2, 2, 2, 3});
  CHECK(eval_crop_starts(100 + 240, 240, 7) == std::vector<int64_t>{0, 16, 33, 50, 66, 83, 100});
  CHECK(eval_crop_starts(6 + 240, 240, 4) == std::vector<int64_t>{0, 2, 4, 6});
  CHECK(eval_crop_starts(5000, 240, 1) == std::vector<int64_t>{0});
  // A short file (padded to max_audio + 1): linspace(0, 1, 10) -> nine crops at 0, the last at 1.
  CHECK(eval_crop_starts(50, 240, 10) == std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  CHECK(eval_crop_starts(241, 240, 10) == std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
}

TEST_CASE("crop: evaluation crops") {
  SUBCASE("long file: num_eval rows at the linspace starts") {
    auto x = ramp(400);   // eval_frames 1 -> max_audio 400 -> padded (len <= max_audio) to 401
    auto c = eval_crops(x, 1, 10);
    CHECK(c.rows == 10);
    CHECK(c.cols == 400);
    for (int64_t r = 0; r < 9; ++r) CHECK(c.data[size_t(r * 400)] == 0.0f);
    // Last crop starts at 1 of the padded signal: 1, 2, ..., 399, then wraps to x[0].
    CHECK(c.data[size_t(9 * 400)] == 1.0f);
    CHECK(c.data[size_t(9 * 400 + 398)] == 399.0f);
    CHECK(c.data[size_t(9 * 400 + 399)] == 0.0f);
  }
  SUBCASE("longer file: rows are windows of the original") {
    auto x = ramp(1000);
    auto c = eval_crops(x, 1, 3);   // starts linspace(0, 600, 3) = 0, 300, 600
    REQUIRE(c.rows == 3);
    CHECK(c.data[0] == 0.0f);
    CHECK(c.data[400] == 300.0f);
    CHECK(c.data[800] == 600.0f);
    CHECK(c.data[1199] == 999.0f);
  }
  SUBCASE("eval_frames 0: the whole file, unpadded unless <= 240 samples") {
    auto x = ramp(300);
    auto c = eval_crops(x, 0, 10);
    CHECK(c.rows == 1);
    CHECK(c.cols == 300);
    CHECK(c.data == x);
    auto s = eval_crops(ramp(200), 0, 10);
    CHECK(s.cols == 241);   // max_audio = 240 -> wrap-padded to 241
    CHECK(s.data[200] == 0.0f);
    CHECK(s.data[240] == 40.0f);
  }
}

TEST_CASE("crop: training crops read from files equal crops of the decoded waveform") {
  spk::test::TempDir dir;
  for (int64_t len : {int64_t(50000), int64_t(32240), int64_t(1000)}) {
    SUBCASE(("16 kHz, " + std::to_string(len) + " samples").c_str()) {
      std::vector<float> x = spk::test::sine(len, 123.4, 16000, 0.7);
      const std::string p = dir.file("a.wav");
      spk::test::sf_write(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, x);
      for (uint64_t seed : {1u, 2u, 3u}) {
        spk::Rng r1(seed), r2(seed);
        auto from_file = train_crop_from_file(p, 200, 16000, r1);
        auto from_mem = train_crop(x, 200, r2);
        CHECK(from_file == from_mem);
        CHECK(r1.offset() == r2.offset());
      }
    }
  }
  SUBCASE("8 kHz file: resampled, then cropped") {
    std::vector<float> x = spk::test::sine(30000, 200, 8000, 0.5);
    const std::string p = dir.file("b.wav");
    spk::test::sf_write(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 1, x);
    const auto up = read_audio(p, 16000);
    spk::Rng r1(5), r2(5);
    CHECK(train_crop_from_file(p, 200, 16000, r1) == train_crop(up, 200, r2));
  }
}
