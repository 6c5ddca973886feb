// pyannote's chunk sampler (engine/audio/chunk_sampler.h): per_fold distinct speakers × per_label chunks per batch,
// one chunk length per batch inside [--chunk_min_duration, --chunk_duration], chunks inside files longer than
// --chunk_duration, speakers below --label_min_duration dropped, every speaker once per walk, files drawn in
// proportion to their length, the epoch length, determinism (seed, epoch, worker count), and the errors.
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "audio/audio_test_util.h"
#include "engine/audio/audio_file.h"
#include "engine/audio/chunk_sampler.h"
#include "engine/audio/loader.h"
#include "engine/check.h"
#include "support/check.h"

using namespace spk::audio;
using spk::test::TempDir;

namespace {

doctest::Contains has(const std::string& s) { return doctest::Contains(s.c_str()); }

// Speaker s has files[s] utterances; utterance i of speaker s is (1 + (i + s) % 4) seconds long at 16 kHz.
struct Corpus {
  std::vector<int64_t> labels, lengths;
};
Corpus make_corpus(const std::vector<int64_t>& files) {
  Corpus c;
  for (size_t s = 0; s < files.size(); ++s)
    for (int64_t i = 0; i < files[s]; ++i) {
      c.labels.push_back(int64_t(s));
      c.lengths.push_back(16000 * (1 + (i + int64_t(s)) % 4));
    }
  return c;
}

ChunkSamplerConfig small_config() {
  ChunkSamplerConfig c;
  c.duration = 0.9;
  c.min_duration = 0.4;
  c.per_fold = 4;
  c.per_label = 3;
  c.label_min_duration = 0;
  c.seed = 7;
  return c;
}

bool same_plan(const ChunkEpochPlan& a, const ChunkEpochPlan& b) {
  if (a.batches.size() != b.batches.size()) return false;
  for (size_t i = 0; i < a.batches.size(); ++i) {
    const auto &x = a.batches[i], &y = b.batches[i];
    if (x.samples != y.samples || x.items.size() != y.items.size()) return false;
    for (size_t j = 0; j < x.items.size(); ++j) {
      if (x.items[j].label != y.items[j].label) return false;
      for (size_t k = 0; k < x.items[j].chunks.size(); ++k)
        if (x.items[j].chunks[k].utterance != y.items[j].chunks[k].utterance ||
            x.items[j].chunks[k].start != y.items[j].chunks[k].start)
          return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("chunk sampler: per_fold distinct speakers x per_label chunks, one length per batch inside the range") {
  const Corpus c = make_corpus({5, 3, 6, 2, 4, 7, 3});
  const ChunkSamplerConfig cfg = small_config();
  const ChunkSampler s(c.labels, c.lengths, cfg);
  CHECK(s.max_samples() == 14400);
  CHECK(s.min_samples() == 6400);
  const ChunkEpochPlan p = s.plan_epoch(1);
  REQUIRE(int64_t(p.batches.size()) == s.num_batches());
  std::set<int64_t> lengths_seen;
  for (const ChunkBatch& b : p.batches) {
    CHECK(b.samples >= 6400);
    CHECK(b.samples <= 14400);
    lengths_seen.insert(b.samples);
    REQUIRE(int64_t(b.items.size()) == cfg.per_fold);
    std::set<int64_t> speakers;
    for (const ChunkItem& it : b.items) {
      CHECK(speakers.insert(it.label).second);   // no speaker twice in a batch
      REQUIRE(int64_t(it.chunks.size()) == cfg.per_label);
      for (const ChunkPick& k : it.chunks) {
        CHECK(c.labels[size_t(k.utterance)] == it.label);
        CHECK(c.lengths[size_t(k.utterance)] > s.max_samples());   // only files longer than --chunk_duration
        CHECK(k.start >= 0);
        CHECK(k.start + b.samples <= c.lengths[size_t(k.utterance)]);
      }
    }
  }
  CHECK(lengths_seen.size() > p.batches.size() / 2);   // a fresh length per batch, not one for all
}

TEST_CASE("chunk sampler: fixed-length chunks when --chunk_min_duration is 0 or equal") {
  const Corpus c = make_corpus({4, 4, 4, 4});
  for (double lo : {0.0, 0.9}) {
    ChunkSamplerConfig cfg = small_config();
    cfg.min_duration = lo;
    const ChunkSampler s(c.labels, c.lengths, cfg);
    for (const ChunkBatch& b : s.plan_epoch(2).batches) CHECK(b.samples == 14400);
  }
}

TEST_CASE("chunk sampler: files not longer than --chunk_duration and speakers below --label_min_duration are left out") {
  // Speaker 0: 1 s + 2 s + 3 s + 4 s files; with duration 1.0 s the 1-s file goes (pyannote keeps turns > duration).
  // Speaker 1: two 1-s files only: no file left. Speaker 2: 2 s + 3 s = 5 s. Speaker 3: 4 s + 1 s -> 4 s.
  const std::vector<int64_t> labels = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3};
  const std::vector<int64_t> lengths = {16000, 32000, 48000, 64000, 16000, 16000, 32000, 48000, 64000, 16000};
  ChunkSamplerConfig cfg = small_config();
  cfg.duration = 1.0;
  cfg.min_duration = 0;
  cfg.per_fold = 2;
  cfg.per_label = 2;
  cfg.label_min_duration = 4.5;   // drops speaker 3 (4 s), keeps 0 (9 s) and 2 (5 s)
  const ChunkSampler s(labels, lengths, cfg);
  CHECK(s.speakers() == std::vector<int64_t>{0, 2});
  CHECK(s.dropped_speakers() == 1);
  CHECK(s.short_files() == 4);
  CHECK(s.kept_files() == 5);
  CHECK(s.kept_seconds() == doctest::Approx(14.0));
  // Default epoch: the kept 14 s in batches of 2 x 2 chunks of 1 s -> ceil(14 / 4) = 4 batches.
  CHECK(s.num_batches() == 4);
  for (const ChunkBatch& b : s.plan_epoch(1).batches)
    for (const ChunkItem& it : b.items)
      for (const ChunkPick& k : it.chunks) {
        CHECK(k.utterance != 0);
        CHECK(k.utterance != 9);
        CHECK((it.label == 0 || it.label == 2));
      }
  // A negative length (an unreadable file with --skip_bad_files) is left out like a short one.
  std::vector<int64_t> bad = lengths;
  bad[3] = -1;   // speaker 0 keeps 2 s + 3 s = 5 s
  const ChunkSampler s2(labels, bad, cfg);
  CHECK(s2.kept_seconds() == doctest::Approx(10.0));
}

TEST_CASE("chunk sampler: --per_epoch in days sets the batches per epoch as pyannote's batches_per_epoch") {
  const Corpus c = make_corpus({4, 4, 4, 4, 4});
  ChunkSamplerConfig cfg = small_config();   // mean chunk 0.65 s, 12 chunks per batch: 7.8 s
  cfg.per_epoch = 0.001;                     // 86.4 s -> ceil(86.4 / 7.8) = 12
  CHECK(ChunkSampler(c.labels, c.lengths, cfg).num_batches() == 12);
  cfg.per_epoch = 0;                         // the kept audio: every file but the 1-s ones
  const ChunkSampler s(c.labels, c.lengths, cfg);
  CHECK(s.num_batches() == int64_t(std::ceil(s.kept_seconds() / 7.8)));
}

TEST_CASE("chunk sampler: every speaker once per walk of the shuffled speakers, also across reshuffles") {
  const Corpus c = make_corpus({3, 3, 3, 3, 3, 3, 3});   // 7 speakers
  ChunkSamplerConfig cfg = small_config();
  cfg.per_fold = 3;   // 7 is not a multiple of 3: walks end inside batches
  cfg.per_label = 1;
  cfg.per_epoch = 0.002;
  const ChunkSampler s(c.labels, c.lengths, cfg);
  const ChunkEpochPlan p = s.plan_epoch(5);
  std::vector<int64_t> stream;
  for (const auto& b : p.batches)
    for (const auto& it : b.items) stream.push_back(it.label);
  REQUIRE(stream.size() >= 70);
  for (size_t w = 0; w + 7 <= stream.size(); w += 7) {
    const std::set<int64_t> walk(stream.begin() + long(w), stream.begin() + long(w) + 7);
    CHECK(walk.size() == 7);
  }
  // And the walks differ (reshuffled), not one order repeated.
  CHECK_FALSE(std::equal(stream.begin(), stream.begin() + 7, stream.begin() + 7));
}

TEST_CASE("chunk sampler: files are drawn in proportion to their length, starts cover the file") {
  // One speaker with a 2-s and a 6-s file (plus a second speaker to fill per_fold).
  const std::vector<int64_t> labels = {0, 0, 1};
  const std::vector<int64_t> lengths = {32000, 96000, 32000};
  ChunkSamplerConfig cfg = small_config();
  cfg.duration = 1.0;
  cfg.min_duration = 0;
  cfg.per_fold = 2;
  cfg.per_label = 4;
  cfg.per_epoch = 0.05;   // 540 batches, 2160 picks of speaker 0
  const ChunkSampler s(labels, lengths, cfg);
  int64_t long_file = 0, total = 0, late = 0;
  for (const auto& b : s.plan_epoch(1).batches)
    for (const auto& it : b.items)
      if (it.label == 0)
        for (const auto& k : it.chunks) {
          ++total;
          if (k.utterance == 1) {
            ++long_file;
            if (k.start > 60000) ++late;
          }
        }
  const double frac = double(long_file) / double(total);
  CHECK(frac == doctest::Approx(0.75).epsilon(0.05));                          // 6 / (2 + 6)
  CHECK(double(late) / double(long_file) == doctest::Approx(20000.0 / 80001).epsilon(0.15));   // uniform start
}

TEST_CASE("chunk sampler: the plan depends on seed and epoch only") {
  const Corpus c = make_corpus({5, 3, 6, 2, 4, 7, 3});
  const ChunkSamplerConfig cfg = small_config();
  const ChunkSampler a(c.labels, c.lengths, cfg), b(c.labels, c.lengths, cfg);
  CHECK(same_plan(a.plan_epoch(3), b.plan_epoch(3)));
  CHECK_FALSE(same_plan(a.plan_epoch(3), a.plan_epoch(4)));
  ChunkSamplerConfig other = cfg;
  other.seed = 8;
  CHECK_FALSE(same_plan(a.plan_epoch(3), ChunkSampler(c.labels, c.lengths, other).plan_epoch(3)));
}

TEST_CASE("chunk sampler: bad settings name the flag") {
  const Corpus c = make_corpus({4, 4, 4});
  auto fails = [&](ChunkSamplerConfig cfg, const std::string& needle) {
    CAPTURE(needle);
    CHECK_THROWS_WITH_AS(ChunkSampler(c.labels, c.lengths, cfg), has(needle), spk::Error);
  };
  ChunkSamplerConfig cfg = small_config();
  cfg.duration = 0;
  fails(cfg, "--chunk_duration must be positive, got 0");
  cfg.duration = -1;
  fails(cfg, "--chunk_duration must be positive");
  cfg = small_config();
  cfg.min_duration = -0.5;
  fails(cfg, "--chunk_min_duration must be 0 (= --chunk_duration) or positive, got -0.5");
  cfg.min_duration = 1.2;
  fails(cfg, "--chunk_min_duration 1.2 s is longer than --chunk_duration 0.9 s: the duration range is empty");
  cfg = small_config();
  cfg.min_duration = 1e-5;
  fails(cfg, "--chunk_min_duration 1e-05 s is shorter than one sample");
  cfg = small_config();
  cfg.per_label = 0;
  fails(cfg, "--per_label must be at least 1, got 0");
  cfg = small_config();
  cfg.per_fold = 0;
  fails(cfg, "--per_fold must be at least 1, got 0");
  cfg = small_config();
  cfg.per_epoch = -1;
  fails(cfg, "--per_epoch must be 0");
  cfg = small_config();
  cfg.label_min_duration = -2;
  fails(cfg, "--label_min_duration must be 0 or more seconds, got -2");
  // Data-dependent: the longest file is 4 s.
  cfg = small_config();
  cfg.duration = 4.0;
  fails(cfg, "--chunk_duration 4 s is not shorter than any file of the training list (the longest has 4 s)");
  cfg = small_config();
  cfg.per_fold = 4;   // 3 speakers
  fails(cfg, "--per_fold 4 needs that many speakers in every batch, but only 3 speakers qualify");
}

TEST_CASE("chunk sampler: --per_fold above the speakers left by --label_min_duration names both") {
  // With duration 1.0 s the 1-s files go: speakers have 2+3+4 = 9 s, 2+3 = 5 s and 3+4+2 = 9 s.
  const Corpus c = make_corpus({4, 2, 4});
  ChunkSamplerConfig cfg = small_config();
  cfg.duration = 1.0;
  cfg.min_duration = 0;
  cfg.per_fold = 3;
  cfg.label_min_duration = 8;
  CHECK_THROWS_WITH_AS(ChunkSampler(c.labels, c.lengths, cfg),
                       has("--per_fold 3 needs that many speakers in every batch, but only 2 speakers qualify (3 have "
                           "files longer than --chunk_duration 1 s, 1 of them with less than --label_min_duration 8 s of such "
                           "audio); use --per_fold <= 2 or lower --label_min_duration"),
                       spk::Error);
  cfg.label_min_duration = 5;
  CHECK_NOTHROW(ChunkSampler(c.labels, c.lengths, cfg));
}

// ---- the loader with --sampler pyannote ----

namespace {

TrainList make_files(const TempDir& dir, int64_t speakers, int64_t per_spk) {
  std::string list;
  for (int64_t s = 0; s < speakers; ++s)
    for (int64_t u = 0; u < per_spk; ++u) {
      const std::string rel = "spk" + std::to_string(s) + "/u" + std::to_string(u) + ".wav";
      const int64_t len = 5000 + ((s * 7 + u * 13) % 10) * 700;   // 5000 .. 11300 samples
      spk::test::write_wav16(dir.file("wav/" + rel), spk::test::sine(len, 100 + 37 * s + 11 * u, 16000, 0.3));
      list += "spk" + std::to_string(s) + " " + rel + "\n";
    }
  spk::test::write_text(dir.file("train_list.txt"), list);
  return read_train_list(dir.file("train_list.txt"), (dir.path / "wav").string());
}

LoaderConfig chunk_loader_config(const TrainList& list, int workers) {
  ChunkSamplerConfig c;
  c.duration = 0.3;       // 4800 samples: every file qualifies
  c.min_duration = 0.15;
  c.per_fold = 3;
  c.per_label = 2;
  c.label_min_duration = 0;
  c.seed = 42;
  LoaderConfig l;
  l.chunks = std::make_shared<ChunkSampler>(list.labels, utterance_lengths(list.paths, 16000, false), c);
  l.num_workers = workers;
  return l;
}

std::vector<Batch> run_epoch(TrainLoader& l, int64_t epoch) {
  l.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (l.next(b)) out.push_back(b);
  return out;
}

}  // namespace

TEST_CASE("loader, --sampler pyannote: (M·N, L) batches of the planned chunks, the same for any worker count") {
  TempDir dir;
  const TrainList list = make_files(dir, 5, 3);
  std::vector<std::vector<Batch>> runs;
  for (int w : {0, 1, 3}) {
    TrainLoader l(list, chunk_loader_config(list, w));
    runs.push_back(run_epoch(l, 2));
    if (w != 0) continue;
    const ChunkEpochPlan& plan = l.chunk_plan();
    REQUIRE(runs[0].size() == plan.batches.size());
    const int64_t N = 3, M = 2;
    for (const Batch& b : runs[0]) {
      const ChunkBatch& cb = plan.batches[size_t(b.index)];
      CHECK(b.n == N);
      CHECK(b.m == M);
      CHECK(b.wav.shape() == spk::Shape{M * N, cb.samples});
      for (int64_t n = 0; n < N; ++n) {
        CHECK(b.labels.data<int64_t>()[n] == cb.items[size_t(n)].label);
        for (int64_t m = 0; m < M; ++m) {
          const ChunkPick& k = cb.items[size_t(n)].chunks[size_t(m)];
          CHECK(b.utterances[size_t(m * N + n)] == k.utterance);
          const auto want = read_audio_frames(list.paths[size_t(k.utterance)], k.start, cb.samples);
          CHECK(std::memcmp(b.wav.data<float>() + (m * N + n) * cb.samples, want.data(),
                            size_t(cb.samples) * sizeof(float)) == 0);
        }
      }
    }
  }
  for (size_t r = 1; r < runs.size(); ++r) {
    REQUIRE(runs[r].size() == runs[0].size());
    for (size_t b = 0; b < runs[0].size(); ++b) {
      CHECK(runs[r][b].wav.shape() == runs[0][b].wav.shape());
      CHECK(std::memcmp(runs[r][b].wav.data<float>(), runs[0][b].wav.data<float>(),
                        size_t(runs[0][b].wav.numel()) * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("loader, --sampler pyannote: noise on every chunk, the same for any worker count") {
  TempDir dir;
  const TrainList list = make_files(dir, 4, 3);
  std::vector<float> n(7000);
  spk::Rng r(3);
  for (auto& v : n) v = float(r.uniform(-0.2, 0.2));
  spk::test::write_wav16(dir.file("noise/n0.wav"), n);
  std::vector<std::vector<Batch>> runs;
  for (int w : {0, 2}) {
    LoaderConfig cfg = chunk_loader_config(list, w);
    cfg.noise = std::make_shared<BackgroundNoise>(std::vector<std::string>{dir.file("noise/n0.wav")}, 10, 20);
    TrainLoader l(list, cfg);
    runs.push_back(run_epoch(l, 1));
  }
  TrainLoader clean(list, chunk_loader_config(list, 0));
  const auto plain = run_epoch(clean, 1);
  REQUIRE(runs[0].size() == plain.size());
  for (size_t b = 0; b < plain.size(); ++b) {
    CHECK(std::memcmp(runs[1][b].wav.data<float>(), runs[0][b].wav.data<float>(),
                      size_t(plain[b].wav.numel()) * sizeof(float)) == 0);
    // The same chunks, now with noise at 10-20 dB below them.
    const float* x = plain[b].wav.data<float>();
    const float* y = runs[0][b].wav.data<float>();
    const int64_t L = plain[b].samples;
    for (int64_t row = 0; row < plain[b].wav.size(0); ++row) {
      double sx = 0, sd = 0;
      for (int64_t i = 0; i < L; ++i) {
        const double d = double(y[row * L + i]) - double(x[row * L + i]);
        sx += double(x[row * L + i]) * x[row * L + i];
        sd += d * d;
      }
      const double snr = 10 * std::log10(sx / sd);
      CHECK(snr > 9.9);
      CHECK(snr < 20.1);
    }
  }
}
