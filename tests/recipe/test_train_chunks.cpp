// spk_train --sampler pyannote (pyannote-audio's chunk sampler) and --add_noise (its background noise) on the tiny
// synthetic corpus: a run trains, logs the sampler's accounting and gives the same model for any loader thread
// count, --per_epoch sets the epoch, a resumed run equals an uninterrupted one, a metric loss trains with
// --per_label 2, and every bad setting stops before any work with an error naming its flag.
#include <cstring>
#include <filesystem>
#include <string>

#include "apps/recipe/checkpoint.h"
#include "engine/audio/audio_file.h"
#include "engine/rng.h"
#include "support/check.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"

#ifdef SPK_TRAIN_BINARY

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

using Run = spk::test::AppRun;

// The tiny corpus (4 speakers x 4 files of 0.375-0.5 s in train4) and two noise files.
spk::test::TinyCorpus& fx() {
  static spk::test::TinyCorpus f("spk_test_train_chunks");
  return f;
}

std::string noise_dir() {
  const std::string d = fx().file("noise");
  if (!fs::exists(d + "/n1.wav")) {
    fs::create_directories(d);
    for (int i = 0; i < 2; ++i) {
      std::vector<float> x(3000 + 4000 * i);
      Rng r(uint64_t(i) + 1);
      for (auto& v : x) v = float(r.uniform(-0.3, 0.3));
      audio::write_audio(d + "/n" + std::to_string(i) + ".wav", x, 16000);
    }
  }
  return d;
}

Run run_train(const std::string& args) { return spk::test::run_binary(SPK_TRAIN_BINARY, args); }

// Chunks of 0.2-0.3 s, 4 speakers x 1 chunk per batch, speakers with at least 1 s of files longer than 0.3 s.
std::string flags(const std::string& out) {
  spk::test::TinyCorpus& f = fx();
  return f.no_eval + " --train_list " + f.train4 + " --max_epoch 1 --save_path " + f.file(out) +
         " --sampler pyannote --chunk_duration 0.3 --chunk_min_duration 0.2 --per_fold 4 --per_label 1"
         " --label_min_duration 1";
}

void check_failure(const std::string& args, const std::string& needle, const std::string& out) {
  const Run r = run_train(args);
  INFO("spk_train " << args << "\n" << r.output);
  CHECK(r.status == 2);
  CHECK(r.output.find("spk_train: error: " + needle) != std::string::npos);
  CHECK_FALSE(fs::exists(fx().file(out)));   // before any work: not even the experiment folder
}

// The same tensors, bit for bit (the files differ in their saved options: --nDataLoaderThread, --save_path).
bool same_tensors(const SafetensorsFile& a, const SafetensorsFile& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const Tensor &x = a.tensors[i].second, &y = b.tensors[i].second;
    if (a.tensors[i].first != b.tensors[i].first || x.shape() != y.shape() || x.dtype() != y.dtype()) return false;
    if (std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.numel()) * dtype_size(x.dtype())) != 0) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("spk_train --sampler pyannote --add_noise: trains, logs the sampler, the same model for 1 and 3 threads") {
  // 0.00002 days = 1.728 s of chunks of 0.25 s on average, 4 per batch -> 2 batches an epoch.
  const std::string noise = " --per_epoch 0.00002 --add_noise --noise_path " + noise_dir() +
                            " --noise_snr_min 5 --noise_snr_max 15";
  const Run a = run_train(flags("run1") + noise + " --nDataLoaderThread 1");
  INFO(a.output);
  REQUIRE(a.status == 0);
  CHECK(a.output.find("2 batches of 4x1 chunks per epoch") != std::string::npos);
  CHECK(a.output.find("--sampler pyannote: chunks of 0.2..0.3 s from 16 files of 4 speakers (0 files not longer "
                      "than --chunk_duration left out, 0 speakers under --label_min_duration dropped") !=
        std::string::npos);
  CHECK(a.output.find("--add_noise: 2 noise files at SNR 5..15 dB") != std::string::npos);
  const Checkpoint ca = read_checkpoint(fx().file("run1") + "/model/last.safetensors");
  CHECK(ca.state.step == 2);
  const Run b = run_train(flags("run3") + noise + " --nDataLoaderThread 3");
  REQUIRE(b.status == 0);
  // Same data in the same order: the same weights, bit for bit.
  const Checkpoint cb = read_checkpoint(fx().file("run3") + "/model/last.safetensors");
  CHECK(same_tensors(ca.file, cb.file));
  // Without noise the model differs (the noise reached the batches).
  const Run c = run_train(flags("run_clean") + " --per_epoch 0.00002 --nDataLoaderThread 1");
  REQUIRE(c.status == 0);
  const Checkpoint cc = read_checkpoint(fx().file("run_clean") + "/model/last.safetensors");
  CHECK_FALSE(same_tensors(ca.file, cc.file));
  // --label_min_duration drops every speaker here (< 2 s each): --per_fold cannot be met.
  check_failure(flags("drop_all") + " --label_min_duration 3", "--per_fold 4 needs that many speakers in every batch, "
                "but only 0 speakers qualify (4 have files longer than --chunk_duration 0.3 s, 4 of them with less than "
                "--label_min_duration 3 s of such audio); lower --label_min_duration or --chunk_duration", "drop_all");
}

TEST_CASE("spk_train --sampler pyannote: bad settings stop before any work, naming the flag") {
  check_failure(flags("bad_sampler") + " --sampler pyanote", "--sampler: unknown sampler 'pyanote'", "bad_sampler");
  check_failure(flags("bad_dur") + " --chunk_duration 0", "--chunk_duration must be positive, got 0", "bad_dur");
  check_failure(flags("bad_dur2") + " --chunk_duration -1", "--chunk_duration must be positive", "bad_dur2");
  check_failure(flags("bad_min") + " --chunk_min_duration -0.1", "--chunk_min_duration must be 0", "bad_min");
  check_failure(flags("bad_range") + " --chunk_min_duration 0.5",
                "--chunk_min_duration 0.5 s is longer than --chunk_duration 0.3 s: the duration range is empty",
                "bad_range");
  check_failure(flags("too_long") + " --chunk_duration 0.6",
                "--chunk_duration 0.6 s is not shorter than any file of the training list (the longest has",
                "too_long");
  check_failure(flags("fold") + " --per_fold 5", "--per_fold 5 needs that many speakers in every batch, but only 4",
                "fold");
  check_failure(flags("fold0") + " --per_fold 0", "--per_fold must be at least 1, got 0", "fold0");
  check_failure(flags("label0") + " --per_label 0", "--per_label must be at least 1, got 0", "label0");
  check_failure(flags("epoch") + " --per_epoch -1", "--per_epoch must be 0", "epoch");
  check_failure(flags("lmd") + " --label_min_duration -1", "--label_min_duration must be 0 or more", "lmd");
  // A metric loss needs 2+ chunks per speaker: --per_label, not --nPerSpeaker, is what counts here.
  check_failure(flags("metric") + " --trainfunc angleproto", "--per_label: 1 does not suit --trainfunc angleproto",
                "metric");
  check_failure(flags("metric2") + " --trainfunc2 angleproto",
                "--trainfunc2: angleproto needs nPerSpeaker >= 2, but --per_label is 1", "metric2");
  // SpecAugment's time masks must fit the shortest chunk (0.2 s: 21 frames), not a --max_frames crop.
  check_failure(flags("specaug") + " --spec_aug --spec_aug_time_width 30",
                "--spec_aug_time_width 30 is wider than the 21 frames of the shortest chunk (0.2 s", "specaug");
  // Noise.
  const std::string noise = " --add_noise --noise_path " + noise_dir();
  check_failure(flags("snr") + noise + " --noise_snr_min 20 --noise_snr_max 10",
                "--noise_snr_min 20 dB is above --noise_snr_max 10 dB: the SNR range is empty", "snr");
  check_failure(flags("nopath") + " --add_noise --noise_path " + fx().file("nowhere"), "--noise_path: no such folder",
                "nopath");
  check_failure(flags("nomusan") + " --add_noise --musan_path " + fx().file("nowhere"),
                "--musan_path: no such folder or list file", "nomusan");
  fs::create_directories(fx().file("no_noise"));
  check_failure(flags("empty") + " --add_noise --noise_path " + fx().file("no_noise"),
                "--noise_path: '" + fx().file("no_noise") + "' holds no noise files", "empty");
  check_failure(flags("both") + noise + " --augment", "--add_noise: and --augment are two augmentation recipes",
                "both");
}

TEST_CASE("spk_train --sampler pyannote: --per_epoch sets the batches; a resumed run equals an uninterrupted one") {
  // 0.00002 days = 1.728 s of chunks of 0.25 s on average, 4 per batch -> 2 batches an epoch.
  const std::string two = " --per_epoch 0.00002 --add_noise --noise_path " + noise_dir();
  const Run a = run_train(flags("straight") + two + " --max_epoch 3");
  INFO(a.output);
  REQUIRE(a.status == 0);
  CHECK(a.output.find("2 batches of 4x1 chunks per epoch") != std::string::npos);
  REQUIRE(run_train(flags("resumed") + two + " --max_epoch 1").status == 0);
  const Run b = run_train(flags("resumed") + two + " --max_epoch 3");
  INFO(b.output);
  REQUIRE(b.status == 0);
  CHECK(b.output.find("resuming from") != std::string::npos);
  const Checkpoint ca = read_checkpoint(fx().file("straight") + "/model/last.safetensors");
  const Checkpoint cb = read_checkpoint(fx().file("resumed") + "/model/last.safetensors");
  CHECK(ca.state.step == 6);
  CHECK(cb.state.step == 6);
  CHECK(same_tensors(ca.file, cb.file));
}

TEST_CASE("spk_train --sampler pyannote trains a metric loss with --per_label 2") {
  const Run r = run_train(flags("metric_ok") + " --trainfunc angleproto --per_label 2 --per_fold 3");
  INFO(r.output);
  CHECK(r.status == 0);
  // The default --per_epoch: all the kept audio, 16 files of 0.375-0.5 s = 7.05 s, in batches of 3 x 2 chunks of
  // 0.25 s on average -> ceil(4.7) = 5 batches.
  CHECK(r.output.find("5 batches of 3x2 chunks per epoch") != std::string::npos);
}

#endif
