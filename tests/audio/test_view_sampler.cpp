// The self-supervised view sampler and unlabelled lists (spk_train --ssl): two distinct crop starts per utterance
// in range (non-overlapping with --ssl_split), every usable utterance once per epoch and distinct within a batch, short files left out and counted,
// the same plan for a seed on any rank split; the loader's view batches (both views from one file at the planned
// offsets, positional labels, independent augmentation, identical for 0, 1 and 3 workers); the list shapes.
#include <cstring>
#include <set>

#include "audio/audio_test_util.h"
#include "engine/audio/augment.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/crop.h"
#include "engine/audio/loader.h"
#include "engine/audio/unlabelled_list.h"
#include "engine/audio/view_sampler.h"
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

}  // namespace

TEST_CASE("view sampler: two distinct starts in range, each usable utterance once per epoch, short files out") {
  ViewSamplerConfig c;
  c.batch_size = 3;
  c.max_frames = 2;   // 560 samples
  c.seed = 7;
  const int64_t L = 560;
  // P = len' - L positions: L and L + 1 samples have one crop (padded / a single start), L + 2 has two.
  const std::vector<int64_t> lengths = {L + 2, 100, L, 4000, L + 1, 900, -1, L + 2, 2000, 5000, 600, 1200};
  ViewSampler v(lengths, c);
  CHECK(v.short_files() == 3);
  CHECK(v.short_file_indices() == std::vector<int64_t>{1, 2, 4});
  CHECK(v.unreadable_files() == 1);
  CHECK(v.usable_files() == 8);
  CHECK(v.num_batches() == 2);   // 8 usable / 3, 2 truncated
  std::set<std::pair<int64_t, int64_t>> two_position_orders;
  for (int64_t epoch = 1; epoch <= 40; ++epoch) {
    const ViewEpochPlan p = v.plan_epoch(epoch);
    REQUIRE(p.num_batches == 2);
    REQUIRE(p.items.size() == 6);
    CHECK(p.truncated == 2);
    std::set<int64_t> seen;
    for (const ViewItem& it : p.items) {
      const int64_t len = lengths[size_t(it.utterance)];
      CHECK(len >= L + 2);   // never a short or unreadable file
      CHECK(seen.insert(it.utterance).second);   // distinct within the epoch, so within every batch
      CHECK(it.start[0] != it.start[1]);
      for (int m = 0; m < 2; ++m) {
        CHECK(it.start[m] >= 0);
        CHECK(it.start[m] + L < len);   // voxceleb_trainer's starts: [0, len - L)
      }
      if (len == L + 2) two_position_orders.insert({it.start[0], it.start[1]});
    }
  }
  // A file with exactly two positions gets both, in either order.
  CHECK(two_position_orders == std::set<std::pair<int64_t, int64_t>>{{0, 1}, {1, 0}});
}

TEST_CASE("view sampler --ssl_split: CEL's non-overlapping views; files under 2 crops + 2 samples left out") {
  ViewSamplerConfig c;
  c.batch_size = 2;
  c.max_frames = 2;   // 560 samples
  c.split = true;
  const int64_t L = 560;
  CHECK(view_min_samples(L, true) == 2 * L + 2);
  CHECK(view_min_samples(L, false) == L + 2);
  const std::vector<int64_t> lengths = {2 * L + 2, 2 * L + 1, 5000, 1000, 3000, 2 * L};
  ViewSampler v(lengths, c);
  CHECK(v.short_file_indices() == std::vector<int64_t>{1, 3, 5});
  CHECK(v.usable_files() == 3);
  std::set<std::pair<int64_t, int64_t>> tightest;
  bool first_later = false, first_earlier = false;
  for (int64_t epoch = 1; epoch <= 40; ++epoch)
    for (const ViewItem& it : v.plan_epoch(epoch).items) {
      const int64_t len = lengths[size_t(it.utterance)];
      for (int m = 0; m < 2; ++m) {
        CHECK(it.start[m] >= 0);
        CHECK(it.start[m] + L < len);
      }
      CHECK(std::abs(it.start[0] - it.start[1]) > L);   // no sample in common
      (it.start[0] < it.start[1] ? first_earlier : first_later) = true;
      if (len == 2 * L + 2) tightest.insert({it.start[0], it.start[1]});
    }
  CHECK(first_earlier);   // shuffled, as CEL's loadWAVSplit
  CHECK(first_later);
  // R = 2: a, b = 0, 1 -> starts 0 and L + 1, in either order.
  CHECK(tightest == std::set<std::pair<int64_t, int64_t>>{{0, L + 1}, {L + 1, 0}});
  CHECK_THROWS_WITH_AS(ViewSampler({5000, 2 * L + 1}, c), doctest::Contains("two non-overlapping crops"), spk::Error);
}

TEST_CASE("view sampler: deterministic for a seed; epochs differ; ranks slice the one plan") {
  ViewSamplerConfig c;
  c.batch_size = 2;
  c.max_frames = 10;
  std::vector<int64_t> lengths;
  for (int i = 0; i < 11; ++i) lengths.push_back(2000 + 137 * i);
  const ViewEpochPlan a = ViewSampler(lengths, c).plan_epoch(3), b = ViewSampler(lengths, c).plan_epoch(3);
  const ViewEpochPlan other = ViewSampler(lengths, c).plan_epoch(4);
  auto same = [](const ViewItem& x, const ViewItem& y) {
    return x.utterance == y.utterance && x.start[0] == y.start[0] && x.start[1] == y.start[1];
  };
  REQUIRE(a.items.size() == 10);
  bool differs = false;
  for (size_t i = 0; i < a.items.size(); ++i) {
    CHECK(same(a.items[i], b.items[i]));
    differs |= !same(a.items[i], other.items[i]);
  }
  CHECK(differs);
  for (int64_t r = 0; r < 2; ++r) {   // 2 ranks x 2 batches x 2: the first 8 items of the one-rank plan
    ViewSamplerConfig rc = c;
    rc.world_size = 2;
    rc.rank = r;
    const ViewEpochPlan p = ViewSampler(lengths, rc).plan_epoch(3);
    REQUIRE(p.items.size() == 4);
    CHECK(p.first_item == 4 * r);
    for (size_t i = 0; i < 4; ++i) CHECK(same(p.items[i], a.items[size_t(4 * r) + i]));
  }
}

TEST_CASE("view sampler: too few files with two crops, or too few for a batch, are errors naming the flag") {
  ViewSamplerConfig c;
  c.batch_size = 2;
  c.max_frames = 10;   // 1840 samples
  CHECK_THROWS_WITH_AS(ViewSampler({5000, 1841, 100}, c), has("--train_list"), spk::Error);
  CHECK_THROWS_WITH_AS(ViewSampler({5000, 1841, 100}, c), has("1 of 3 files (2 too short"), spk::Error);
  c.batch_size = 4;
  CHECK_THROWS_WITH_AS(ViewSampler({5000, 6000, 7000}, c), has("--batch_size: 4"), spk::Error);
  c.batch_size = 3;
  CHECK(ViewSampler({5000, 6000, 7000}, c).num_batches() == 1);
}

TEST_CASE("view loader: both views crop one file at the planned offsets, augmented independently, for any workers") {
  TempDir dir;
  std::string list_text;
  for (int i = 0; i < 9; ++i) {
    const std::string rel = "u" + std::to_string(i) + ".wav";
    // White noise: any two distinct offsets give different crops.
    spk::test::write_wav16(dir.file("wav/" + rel), white(4000 + 300 * i, 100 + uint64_t(i), 0.3));
    list_text += rel + "\n";
  }
  spk::test::write_wav16(dir.file("wav/short.wav"), white(3000, 99, 0.3));   // < 3440 + 2: no two crops
  list_text += "short.wav\n";
  spk::test::write_text(dir.file("list.txt"), list_text);
  const UnlabelledList ul = read_unlabelled_list(dir.file("list.txt"), (dir.path / "wav").string());
  REQUIRE(ul.list.size() == 10);
  const std::vector<std::string> noise = {dir.file("n0.wav"), dir.file("n1.wav")};
  spk::test::write_wav16(noise[0], white(9000, 1, 0.3));
  spk::test::write_wav16(noise[1], white(12000, 2, 0.2));
  std::vector<float> rir(400, 0.0f);
  rir[0] = 0.5f;
  rir[50] = 0.25f;
  spk::test::write_wav16(dir.file("r.wav"), rir);
  auto aug = std::make_shared<Augmenter>(noise, noise, noise, std::vector<std::string>{dir.file("r.wav")});

  ViewSamplerConfig vc;
  vc.batch_size = 4;
  vc.max_frames = 20;   // 3440 samples
  vc.seed = 5;
  auto views = std::make_shared<ViewSampler>(utterance_lengths(ul.list.paths, 16000, false), vc);
  CHECK(views->short_files() == 1);
  REQUIRE(views->num_batches() == 2);
  const int64_t N = 4, L = 3440;

  std::vector<std::vector<Batch>> runs;
  for (int workers : {0, 1, 3}) {
    LoaderConfig lc;
    lc.views = views;
    lc.augment = aug;
    lc.num_workers = workers;
    TrainLoader loader(ul.list, lc);
    loader.start_epoch(2);
    std::vector<Batch> got;
    Batch b;
    while (loader.next(b)) got.push_back(b);
    REQUIRE(got.size() == 2);
    if (runs.empty()) {
      const ViewEpochPlan& plan = loader.view_plan();
      int64_t distinct_augmentation = 0;
      for (const Batch& bt : got) {
        CHECK(bt.m == 2);
        CHECK(bt.n == N);
        CHECK(bt.wav.shape() == spk::Shape{2 * N, L});
        for (int64_t n = 0; n < N; ++n) {
          CHECK(bt.labels.data<int64_t>()[n] == n);   // positional
          const ViewItem& it = plan.items[size_t(bt.index * N + n)];
          CHECK(bt.utterances[size_t(n)] == it.utterance);       // view 0 and view 1: the same file
          CHECK(bt.utterances[size_t(N + n)] == it.utterance);
          const std::vector<float> file = read_audio(ul.list.paths[size_t(it.utterance)], 16000);
          std::vector<std::vector<float>> added(2);
          for (int64_t m = 0; m < 2; ++m) {
            std::vector<float> want(file.begin() + it.start[m], file.begin() + it.start[m] + L);
            const std::vector<float> clean = want;
            spk::Rng rng = spk::Rng(vc.seed).fork(2).fork(uint64_t(bt.index * N + n)).fork(uint64_t(m));
            aug->augment(want.data(), L, rng);   // the view's own stream
            const float* row = bt.wav.data<float>() + (m * N + n) * L;
            CHECK(std::memcmp(row, want.data(), size_t(L) * sizeof(float)) == 0);
            for (int64_t i = 0; i < L; ++i) added[size_t(m)].push_back(row[i] - clean[size_t(i)]);
          }
          // Independent augmentation: not one draw applied twice (both may draw "none" now and then).
          distinct_augmentation += added[0] != added[1];
        }
      }
      CHECK(distinct_augmentation >= N);
    }
    runs.push_back(std::move(got));
  }
  for (size_t r = 1; r < runs.size(); ++r)
    for (size_t b = 0; b < runs[0].size(); ++b) {
      CHECK(std::memcmp(runs[r][b].wav.data<float>(), runs[0][b].wav.data<float>(), size_t(2 * N * L) * sizeof(float)) ==
            0);
      CHECK(runs[r][b].utterances == runs[0][b].utterances);
    }
}

TEST_CASE("unlabelled lists: plain paths, wav.scp, voxceleb_trainer and CEL lists; duplicates once; bad lines") {
  TempDir dir;
  auto read = [&](const std::string& text) {
    spk::test::write_text(dir.file("l.txt"), text);
    return read_unlabelled_list(dir.file("l.txt"), "/root");
  };
  const std::vector<std::string> want = {"/root/a/x.wav", "/root/b/y.flac"};
  CHECK(read("a/x.wav\n\nb/y.flac\n").list.paths == want);
  CHECK(read("utt1 a/x.wav\nutt2 b/y.flac\n").list.paths == want);          // wav.scp
  CHECK(read("id10001 a/x.wav\nid10002 b/y.flac\n").list.paths == want);    // voxceleb_trainer, labels ignored
  CHECK(read("a/x.wav 0\nb/y.flac 7\n").list.paths == want);                // CEL `path label`
  CHECK(read("u1 /abs/x.wav\n").list.paths == std::vector<std::string>{"/abs/x.wav"});
  const UnlabelledList d = read("a/x.wav\nb/y.flac\na/x.wav\n");
  CHECK(d.list.paths == want);
  CHECK(d.duplicates == 1);
  CHECK(d.list.labels == std::vector<int64_t>{0, 1});
  CHECK(d.list.speakers.size() == 0);
  CHECK_THROWS_WITH_AS(read("a/x.wav\nu b/y.wav\n"), has("l.txt:2: expected 1 columns"), spk::Error);
  CHECK_THROWS_WITH_AS(read("u a b c\n"), has("l.txt:1: expected `path`"), spk::Error);
  CHECK_THROWS_WITH_AS(read("u sox a.wav -t wav - |\n"), has("piped"), spk::Error);
  CHECK_THROWS_WITH_AS(read_unlabelled_list(dir.file("missing.txt")), has("cannot open"), spk::Error);
}
