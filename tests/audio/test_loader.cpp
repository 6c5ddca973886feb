// Loader threads: voxceleb_trainer's (M·N, L) layout, identical batches for any worker count, early stop
// without hang, bad files (error naming the file, or skipped and counted), and the evaluation reader.
#include <cstring>
#include <map>

#include "audio/audio_test_util.h"
#include "engine/audio/crop.h"
#include "engine/audio/loader.h"
#include "engine/check.h"
#include "support/check.h"

using namespace spk::audio;
using spk::test::TempDir;

namespace {

doctest::Contains has(const std::string& s) { return doctest::Contains(s.c_str()); }

// speakers × per_spk 16-kHz WAV files of varying length (some shorter than the crop), distinct content each.
TrainList make_corpus(const TempDir& dir, int64_t speakers, int64_t per_spk) {
  std::string list;
  for (int64_t s = 0; s < speakers; ++s)
    for (int64_t u = 0; u < per_spk; ++u) {
      const std::string rel = "spk" + std::to_string(s) + "/u" + std::to_string(u) + ".wav";
      const int64_t len = 1500 + ((s * 7 + u * 13) % 10) * 700;   // 1500 .. 7800 samples
      spk::test::write_wav16(dir.file("wav/" + rel), spk::test::sine(len, 100 + 37 * s + 11 * u, 16000, 0.3));
      list += "spk" + std::to_string(s) + " " + rel + "\n";
    }
  spk::test::write_text(dir.file("train_list.txt"), list);
  return read_train_list(dir.file("train_list.txt"), (dir.path / "wav").string());
}

LoaderConfig small_config(int workers) {
  LoaderConfig c;
  c.sampler.batch_size = 4;
  c.sampler.n_per_speaker = 2;
  c.sampler.seed = 42;
  c.max_frames = 20;   // 3440 samples
  c.num_workers = workers;
  return c;
}

std::vector<Batch> run_epoch(TrainLoader& l, int64_t epoch) {
  l.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (l.next(b)) out.push_back(b);
  return out;
}

bool same_data(const spk::Tensor& a, const spk::Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data<float>(), b.data<float>(), size_t(a.numel()) * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("loader: batches are (M·N, L) with row m·N + n = crop m of group n") {
  TempDir dir;
  auto list = make_corpus(dir, 6, 4);
  const auto cfg = small_config(2);
  TrainLoader loader(list, cfg);
  auto batches = run_epoch(loader, 1);
  const auto& plan = loader.plan();
  REQUIRE(int64_t(batches.size()) == plan.num_batches);
  REQUIRE(plan.num_batches >= 2);
  const int64_t N = 4, M = 2, L = 3440;
  for (const auto& b : batches) {
    CHECK(b.wav.shape() == spk::Shape{M * N, L});
    CHECK(b.labels.shape() == spk::Shape{N});
    CHECK(b.labels.dtype() == spk::DType::i64);
    for (int64_t n = 0; n < N; ++n) {
      const int64_t item = b.index * N + n;
      const auto& it = plan.items[size_t(item)];
      CHECK(b.labels.data<int64_t>()[n] == it.label);
      for (int64_t m = 0; m < M; ++m) {
        CHECK(b.utterances[size_t(m * N + n)] == it.utterances[size_t(m)]);
        // The row is the crop the documented per-item stream gives.
        spk::Rng rng = spk::Rng(cfg.sampler.seed).fork(1).fork(uint64_t(plan.first_item + item)).fork(uint64_t(m));
        auto want = train_crop_from_file(list.paths[size_t(it.utterances[size_t(m)])], cfg.max_frames, 16000, rng);
        CHECK(std::memcmp(b.wav.data<float>() + (m * N + n) * L, want.data(), size_t(L) * sizeof(float)) == 0);
      }
    }
  }
}

TEST_CASE("loader: the same batches with 0, 1 and 3 workers; another epoch differs") {
  TempDir dir;
  auto list = make_corpus(dir, 6, 5);
  std::vector<std::vector<Batch>> runs;
  for (int w : {0, 1, 3}) {
    TrainLoader l(list, small_config(w));
    runs.push_back(run_epoch(l, 2));
  }
  for (size_t r = 1; r < runs.size(); ++r) {
    REQUIRE(runs[r].size() == runs[0].size());
    for (size_t b = 0; b < runs[0].size(); ++b) {
      CHECK(same_data(runs[r][b].wav, runs[0][b].wav));
      CHECK(runs[r][b].utterances == runs[0][b].utterances);
    }
  }
  TrainLoader l(list, small_config(3));
  auto other = run_epoch(l, 3);
  CHECK_FALSE(same_data(other[0].wav, runs[0][0].wav));
}

TEST_CASE("loader: stopping early does not hang") {
  TempDir dir;
  auto list = make_corpus(dir, 8, 6);
  auto cfg = small_config(3);
  cfg.sampler.n_per_speaker = 1;
  cfg.prefetch_batches = 2;
  {
    TrainLoader l(list, cfg);
    l.start_epoch(0);
    Batch b;
    REQUIRE(l.next(b));
  }   // destructor joins while workers wait on the full queue
  TrainLoader l(list, cfg);
  l.start_epoch(0);
  Batch b;
  REQUIRE(l.next(b));
  l.start_epoch(1);   // restart mid-epoch
  int64_t n = 0;
  while (l.next(b)) ++n;
  CHECK(n == l.num_batches());
  l.start_epoch(2);
  l.stop();
  CHECK_FALSE(l.next(b));
}

TEST_CASE("loader: bad files") {
  TempDir dir;
  auto list = make_corpus(dir, 6, 4);
  // Damage three files: missing, empty, corrupt.
  const std::string missing = list.paths[1], empty = list.paths[6], corrupt = list.paths[13];
  std::filesystem::remove(missing);
  spk::test::sf_write(empty, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, std::vector<short>{});
  spk::test::write_text(corrupt, "RIFF garbage that is not a wave file");
  auto cfg = small_config(3);
  cfg.sampler.n_per_speaker = 1;   // every file is in the epoch

  SUBCASE("an error naming the file reaches the consumer") {
    TrainLoader l(list, cfg);
    l.start_epoch(0);
    Batch b;
    std::string msg;
    try {
      while (l.next(b)) {}
    } catch (const spk::Error& e) {
      msg = e.what();
    }
    REQUIRE_FALSE(msg.empty());
    const bool names_one = msg.find("'" + missing + "': no such file") != std::string::npos ||
                           msg.find("'" + empty + "': empty (0 frames)") != std::string::npos ||
                           msg.find("'" + corrupt + "': corrupt or unsupported audio format") != std::string::npos;
    CHECK_MESSAGE(names_one, msg);
    CHECK(msg.find("loader: epoch 0 batch ") != std::string::npos);
    CHECK_FALSE(l.next(b));   // the epoch is over after an error
  }
  SUBCASE("skip_bad_files drops the groups and counts them") {
    cfg.skip_bad_files = true;
    TrainLoader l(list, cfg);
    auto batches = run_epoch(l, 0);
    int64_t groups = 0, skipped = 0;
    for (const auto& b : batches) {
      groups += b.n;
      skipped += b.skipped_groups;
      CHECK(b.wav.shape() == spk::Shape{b.n, 3440});
      CHECK(b.labels.shape() == spk::Shape{b.n});
      for (int64_t u : b.utterances) CHECK((u != 1 && u != 6 && u != 13));
    }
    // The sampler may leave a file out of this epoch; count the bad ones it planned.
    std::map<int64_t, std::string> planned_bad;
    for (const auto& it : l.plan().items)
      for (int64_t u : it.utterances)
        if (u == 1 || u == 6 || u == 13) planned_bad[u] = list.paths[size_t(u)];
    REQUIRE(planned_bad.size() >= 2);
    const int64_t nbad = int64_t(planned_bad.size());
    CHECK(skipped == nbad);
    CHECK(groups == int64_t(l.plan().items.size()) - nbad);
    CHECK(l.bad_files() == nbad);
    auto errs = l.bad_file_errors();
    REQUIRE(int64_t(errs.size()) == nbad);
    std::string all;
    for (auto& e : errs) all += e + "\n";
    for (auto& [u, path] : planned_bad) CHECK(all.find("'" + path + "'") != std::string::npos);
  }
}

TEST_CASE("loader: very short files are wrap-padded, not rejected") {
  TempDir dir;
  std::string list;
  for (int s = 0; s < 4; ++s) {
    std::vector<float> x = {0.1f * float(s + 1), -0.2f, 0.3f};
    spk::test::write_wav16(dir.file("s" + std::to_string(s) + ".wav"), x);
    list += "spk" + std::to_string(s) + " s" + std::to_string(s) + ".wav\n";
  }
  spk::test::write_text(dir.file("list.txt"), list);
  auto cfg = small_config(1);
  cfg.sampler.n_per_speaker = 1;
  TrainLoader l(read_train_list(dir.file("list.txt"), dir.path.string()), cfg);
  auto batches = run_epoch(l, 0);
  REQUIRE(batches.size() == 1);
  const float* row = batches[0].wav.data<float>();
  for (int64_t i = 0; i < 3440; ++i) CHECK(row[i] == row[i % 3]);
}

TEST_CASE("loader: evaluation reader gives each file's crops in order") {
  TempDir dir;
  std::vector<std::string> paths;
  for (int i = 0; i < 7; ++i) {
    paths.push_back(dir.file("t" + std::to_string(i) + ".wav"));
    spk::test::write_wav16(paths.back(), spk::test::sine(2000 + 900 * i, 200 + 50 * i, 16000, 0.4));
  }
  for (int64_t eval_frames : {int64_t(20), int64_t(0)}) {
    CAPTURE(eval_frames);
    EvalConfig c;
    c.eval_frames = eval_frames;
    c.num_eval = 5;
    c.num_workers = 3;
    EvalReader r(paths, c);
    EvalItem it;
    int64_t i = 0;
    while (r.next(it)) {
      CHECK(it.index == i);
      CHECK(it.path == paths[size_t(i)]);
      const auto want = eval_crops(read_audio(paths[size_t(i)]), eval_frames, 5);
      CHECK(it.wav.shape() == spk::Shape{want.rows, want.cols});
      CHECK(std::memcmp(it.wav.data<float>(), want.data.data(), want.data.size() * sizeof(float)) == 0);
      ++i;
    }
    CHECK(i == 7);
  }
  paths.insert(paths.begin() + 3, dir.file("absent.wav"));
  EvalReader r(paths, EvalConfig{});
  EvalItem it;
  int64_t ok = 0;
  CHECK_THROWS_WITH_AS(
      [&] {
        while (r.next(it)) ++ok;
      }(),
      has("'" + dir.file("absent.wav") + "': no such file"), spk::Error);
  CHECK(ok == 3);
}
