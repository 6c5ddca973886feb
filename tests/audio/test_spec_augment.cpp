// SpecAugment (engine/audio/spec_augment.h, kernels/specaug): the draws of both conventions stay within their
// references' ranges (TaoRuijie FbankAug, wespeaker spec_aug), masked elements are exactly 0 and the others
// untouched, the same seed gives the same masks, prob 0 is the identity, the CPU kernel equals a direct loop
// (overlapping, empty and out-of-range intervals included), bad settings fail naming the setting, and the CUDA
// kernel equals the CPU bit for bit (skipped without a GPU).
#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include "engine/audio/spec_augment.h"
#include "engine/autograd.h"
#include "engine/check.h"
#include "kernels/specaug/specaug.h"
#include "support/check.h"

using namespace spk;

namespace {

// y[b,f,t] by definition: 0 where t is in a time interval or f in a freq interval of row b.
std::vector<float> direct(const std::vector<float>& x, int64_t B, int64_t F, int64_t T, const SpecAugMasks& m) {
  std::vector<float> y(x);
  const int64_t n = m.n_time + m.n_freq;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t f = 0; f < F; ++f)
      for (int64_t t = 0; t < T; ++t) {
        bool masked = false;
        for (int64_t k = 0; k < n; ++k) {
          const int32_t s = m.intervals[size_t((b * n + k) * 2)], e = m.intervals[size_t((b * n + k) * 2 + 1)];
          const int64_t v = k < m.n_time ? t : f;
          masked |= v >= s && v < e;
        }
        if (masked) y[size_t((b * F + f) * T + t)] = 0.0f;
      }
  return y;
}

Tensor random_feats(int64_t B, int64_t F, int64_t T, uint64_t seed) {
  Rng r(seed);
  return Tensor::uniform({B, F, T}, r, 0.5, 2.0);   // never 0, so a 0 in the output is a mask
}

// Interval k of row b.
std::pair<int32_t, int32_t> iv(const SpecAugMasks& m, int64_t b, int64_t k) {
  const size_t i = size_t((b * (m.n_time + m.n_freq) + k) * 2);
  return {m.intervals[i], m.intervals[i + 1]};
}

}  // namespace

TEST_CASE("spec_augment taoruijie draws: FbankAug's widths, starts and counts") {
  SpecAugConfig cfg;   // defaults: FbankAug's (1 time mask < 10 frames, 1 freq mask < 8 bins, every utterance)
  const int64_t B = 32, F = 80, T = 202;
  std::set<int> time_w, freq_w;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Rng rng(seed);
    const SpecAugMasks m = spec_aug_draw(cfg, B, F, T, rng);
    REQUIRE(m.n_time == 1);
    REQUIRE(m.n_freq == 1);
    REQUIRE(m.intervals.size() == size_t(B * 4));
    int tmax = 0, fmax = 0;
    for (int64_t b = 0; b < B; ++b) tmax = std::max(tmax, iv(m, b, 0).second - iv(m, b, 0).first);
    for (int64_t b = 0; b < B; ++b) fmax = std::max(fmax, iv(m, b, 1).second - iv(m, b, 1).first);
    for (int64_t b = 0; b < B; ++b) {
      const auto [t0, t1] = iv(m, b, 0);
      const auto [f0, f1] = iv(m, b, 1);
      time_w.insert(t1 - t0);
      freq_w.insert(f1 - f0);
      CHECK(t1 - t0 >= 0);
      CHECK(t1 - t0 < 10);
      CHECK(f1 - f0 >= 0);
      CHECK(f1 - f0 < 8);
      // start < max(1, D - the batch's widest mask), so every mask ends inside the features
      CHECK(t0 >= 0);
      CHECK(t0 < std::max(1, int(T) - tmax));
      CHECK(f0 >= 0);
      CHECK(f0 < std::max(1, int(F) - fmax));
    }
  }
  CHECK(time_w == std::set<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});   // every width of U{0..9} turns up in 640 draws
  CHECK(freq_w == std::set<int>{0, 1, 2, 3, 4, 5, 6, 7});
}

TEST_CASE("spec_augment wespeaker draws: one set of masks per batch, widths 1..max, clipped, prob per batch") {
  SpecAugConfig cfg;
  cfg.style = SpecAugStyle::wespeaker;
  cfg.time_masks = 2;
  cfg.time_width = 50;
  cfg.freq_masks = 2;
  cfg.freq_width = 10;
  cfg.prob = 0.6;
  const int64_t B = 4, F = 40, T = 60;
  int masked_batches = 0, clipped = 0;
  const int trials = 400;
  for (int s = 0; s < trials; ++s) {
    Rng rng(1000 + uint64_t(s));
    const SpecAugMasks m = spec_aug_draw(cfg, B, F, T, rng);
    REQUIRE(m.intervals.size() == size_t(B * 8));
    for (int64_t b = 1; b < B; ++b)
      CHECK(std::equal(m.intervals.begin(), m.intervals.begin() + 8, m.intervals.begin() + b * 8));
    bool any = false;
    for (int64_t k = 0; k < 4; ++k) {
      const auto [s0, e0] = iv(m, 0, k);
      const int64_t D = k < 2 ? T : F, W = k < 2 ? 50 : 10;
      if (e0 == 0 && s0 == 0) continue;   // an unmasked batch: all intervals [0, 0)
      any = true;
      CHECK(s0 >= 0);
      CHECK(s0 < D);
      CHECK(e0 > s0);                     // width >= 1
      CHECK(e0 - s0 <= W);
      CHECK(e0 <= D);
      clipped += e0 == D;
    }
    masked_batches += any;
  }
  // Binomial(400, 0.6): mean 240, sd 9.8; +-5 sd.
  CHECK(masked_batches > 191);
  CHECK(masked_batches < 289);
  CHECK(clipped > 0);   // starts near the end are clipped to the features, as min(max_frames, start + length)
}

TEST_CASE("spec_augment: masked elements are exactly 0, the rest untouched; the CPU kernel equals a direct loop") {
  for (const SpecAugStyle style : {SpecAugStyle::taoruijie, SpecAugStyle::wespeaker}) {
    SUBCASE(spec_aug_style_name(style)) {
      SpecAugConfig cfg;
      cfg.style = style;
      cfg.time_masks = 3;
      cfg.freq_masks = 2;
      cfg.time_width = 7;
      cfg.freq_width = 5;
      cfg.prob = 1.0;
      const int64_t B = 5, F = 13, T = 29;
      const Tensor x = random_feats(B, F, T, 7);
      Rng rng(3);
      const SpecAugMasks m = spec_aug_draw(cfg, B, F, T, rng);
      const Tensor y = spec_aug_apply(x, m);
      const std::vector<float> want = direct(x.to_vector<float>(), B, F, T, m);
      const std::vector<float> got = y.to_vector<float>();
      REQUIRE(got.size() == want.size());
      int64_t zeros = 0, diff = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        diff += got[i] != want[i];   // exact: a copy or a 0
        zeros += got[i] == 0.0f;
      }
      CHECK(diff == 0);
      CHECK(zeros > 0);
      const std::vector<float> xv = x.to_vector<float>();
      CHECK(xv != got);   // a new tensor; the input keeps its values
      CHECK(std::count(xv.begin(), xv.end(), 0.0f) == 0);
    }
  }
}

TEST_CASE("specaug_forward_cpu: overlapping, empty and out-of-range intervals, in place, f64") {
  const int64_t B = 2, F = 4, T = 6;
  SpecAugMasks m;
  m.B = B;
  m.n_time = 2;
  m.n_freq = 1;
  // row 0: time [1,3) and [2,5) overlap, freq [3,9) runs past F; row 1: time [4, 99) past T, an empty one [3,3),
  // freq [0,0) empty
  m.intervals = {1, 3, 2, 5, 3, 9, /**/ 4, 99, 3, 3, 0, 0};
  std::vector<float> x(size_t(B * F * T));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i + 1);
  const std::vector<float> want = direct(x, B, F, T, m);
  std::vector<float> y(x.size(), -1.0f);
  specaug_forward_cpu<float>(x.data(), y.data(), B, F, T, m.intervals.data(), m.n_time, m.n_freq);
  CHECK(y == want);
  // Spot checks of the definition: row 0, bin 0: frames 1..4 masked; bin 3 all masked. Row 1: frames 4, 5 masked.
  CHECK(y[0] == 1.0f);
  CHECK(y[1] == 0.0f);
  CHECK(y[4] == 0.0f);
  CHECK(y[5] == 6.0f);
  CHECK(y[3 * T + 0] == 0.0f);
  CHECK(y[size_t(F * T) + 3] == float(F * T + 4));
  CHECK(y[size_t(F * T) + 4] == 0.0f);
  std::vector<float> inplace(x);
  specaug_forward_cpu<float>(inplace.data(), inplace.data(), B, F, T, m.intervals.data(), m.n_time, m.n_freq);
  CHECK(inplace == want);
  std::vector<double> xd(x.begin(), x.end()), yd(x.size());
  specaug_forward_cpu<double>(xd.data(), yd.data(), B, F, T, m.intervals.data(), m.n_time, m.n_freq);
  CHECK(std::vector<double>(want.begin(), want.end()) == yd);
}

TEST_CASE("spec_augment: the same seed gives the same masks; another seed others; the Rng advances") {
  for (const SpecAugStyle style : {SpecAugStyle::taoruijie, SpecAugStyle::wespeaker}) {
    SUBCASE(spec_aug_style_name(style)) {
      SpecAugConfig cfg;
      cfg.style = style;
      cfg.prob = 1.0;
      const Tensor x = random_feats(8, 80, 200, 11);
      Rng a(42), b(42), c(43);
      const std::vector<float> ya = spec_augment(x, cfg, a).to_vector<float>();
      CHECK(ya == spec_augment(x, cfg, b).to_vector<float>());
      CHECK(a.offset() == b.offset());
      CHECK(a.offset() > 0);
      CHECK(ya != spec_augment(x, cfg, c).to_vector<float>());
      CHECK(ya != spec_augment(x, cfg, a).to_vector<float>());   // the next step draws new masks
      // A resumed run restores (seed, offset) and draws what the uninterrupted one would have drawn.
      Rng resumed(0);
      resumed.set_state(b.seed(), b.offset());
      CHECK(spec_aug_draw(cfg, 8, 80, 200, resumed).intervals == spec_aug_draw(cfg, 8, 80, 200, b).intervals);
    }
  }
}

TEST_CASE("spec_augment: prob 0 is the identity, and masks nothing in either style") {
  for (const SpecAugStyle style : {SpecAugStyle::taoruijie, SpecAugStyle::wespeaker}) {
    SUBCASE(spec_aug_style_name(style)) {
      SpecAugConfig cfg;
      cfg.style = style;
      cfg.prob = 0.0;
      cfg.time_masks = 2;
      const Tensor x = random_feats(6, 40, 50, 5);
      Rng rng(9);
      CHECK(spec_augment(x, cfg, rng).to_vector<float>() == x.to_vector<float>());
      // Zero masks along both axes is also the identity.
      SpecAugConfig none;
      none.time_masks = 0;
      none.freq_masks = 0;
      CHECK(spec_augment(x, none, rng).to_vector<float>() == x.to_vector<float>());
    }
  }
}

TEST_CASE("spec_augment: bad settings and inputs fail naming the setting") {
  const int64_t F = 80, T = 200;
  auto err = [&](auto set) {
    SpecAugConfig c;
    set(c);
    return spec_aug_config_error(c, F, T);
  };
  CHECK(err([](SpecAugConfig&) {}).empty());
  CHECK(err([](SpecAugConfig& c) { c.time_masks = -1; }).find("time_masks must be 0 or more") != std::string::npos);
  CHECK(err([](SpecAugConfig& c) { c.freq_masks = -2; }).find("freq_masks") != std::string::npos);
  CHECK(err([](SpecAugConfig& c) { c.time_width = 0; }).find("time_width must be at least 1") != std::string::npos);
  CHECK(err([](SpecAugConfig& c) { c.freq_width = 81; }).find("freq_width 81 is wider than the features' 80 bins") !=
        std::string::npos);
  CHECK(err([](SpecAugConfig& c) { c.time_width = 201; }).find("time_width 201") != std::string::npos);
  CHECK(err([](SpecAugConfig& c) { c.freq_width = 81, c.freq_masks = 0; }).empty());   // unused width: not checked
  CHECK(err([](SpecAugConfig& c) { c.prob = 1.5; }).find("prob must be in [0, 1]") != std::string::npos);
  CHECK(err([](SpecAugConfig& c) { c.prob = -0.1; }).find("prob") != std::string::npos);
  Rng rng(1);
  SpecAugConfig wide;
  wide.freq_width = 100;
  CHECK_THROWS_WITH_AS(spec_aug_draw(wide, 2, F, T, rng), doctest::Contains("freq_width 100"), spk::Error);
  CHECK_THROWS_WITH_AS(spec_aug_style("kaldi"), doctest::Contains("taoruijie, wespeaker"), spk::Error);
  CHECK(spec_aug_style("wespeaker") == SpecAugStyle::wespeaker);
  CHECK_THROWS_WITH_AS(spec_augment(Tensor::zeros({2, 100}), SpecAugConfig{}, rng),
                       doctest::Contains("expects features (B, F, T)"), spk::Error);
  Tensor leaf = random_feats(1, 80, 200, 1);
  leaf.set_requires_grad(true);
  CHECK_THROWS_WITH_AS(spec_augment(leaf, SpecAugConfig{}, rng), doctest::Contains("has no backward"), spk::Error);
  SpecAugMasks wrong = spec_aug_draw(SpecAugConfig{}, 3, F, T, rng);
  CHECK_THROWS_WITH_AS(spec_aug_apply(random_feats(2, F, T, 1), wrong), doctest::Contains("do not fit"), spk::Error);
}

TEST_CASE("spec_augment CUDA: the same masks give the CPU's output bit for bit") {
  if (!test::gpu_or_skip()) return;
  for (const SpecAugStyle style : {SpecAugStyle::taoruijie, SpecAugStyle::wespeaker}) {
    SUBCASE(spec_aug_style_name(style)) {
      SpecAugConfig cfg;
      cfg.style = style;
      cfg.time_masks = 2;
      cfg.freq_masks = 2;
      cfg.prob = 0.8;
      for (const auto& [B, F, T] : std::vector<std::array<int64_t, 3>>{{1, 1 + 7, 9}, {13, 80, 202}, {64, 40, 301}}) {
        const Tensor x = random_feats(B, F, T, uint64_t(B * T));
        Rng rng_cpu(5), rng_gpu(5);
        const Tensor y_cpu = spec_augment(x, cfg, rng_cpu);
        const Tensor y_gpu = spec_augment(x.to(Device::cuda()), cfg, rng_gpu);
        CHECK(y_gpu.device().is_cuda());
        CHECK_MESSAGE(y_gpu.to(Device::cpu()).to_vector<float>() == y_cpu.to_vector<float>(),
                      "B=" << B << " F=" << F << " T=" << T);
      }
    }
  }
  SpecAugConfig none;   // no masks at all: a copy, with nothing uploaded
  none.time_masks = 0;
  none.freq_masks = 0;
  const Tensor x = random_feats(3, 8, 17, 1);
  Rng rng(1);
  CHECK(spec_augment(x.to(Device::cuda()), none, rng).to(Device::cpu()).to_vector<float>() == x.to_vector<float>());
}
