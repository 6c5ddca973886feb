// spk_train with the pyannote-audio losses: a loss's per-step warning (LossOutput::warning) is logged once per
// epoch plus a summary, the classification ones get the nClasses-covers-every-speaker check, arc_linear's margin
// follows the margin ramp, and the metric ones refuse --nPerSpeaker 1 before any work.
#include <filesystem>
#include <regex>
#include <string>

#include "apps/recipe/checkpoint.h"
#include "apps/recipe/config.h"
#include "apps/recipe/loss_warnings.h"
#include "apps/recipe/trainer.h"
#include "engine/schedule.h"
#include "support/check.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

TEST_CASE("LossWarnings: the first of an epoch in full, the rest counted and summarised, then a fresh count") {
  LossWarnings w;
  const std::string first = w.note(3, 2, 8, "no valid triplet");
  CHECK(first.find("epoch 3, batch 2 of 8: no valid triplet") != std::string::npos);
  CHECK(w.note(3, 5, 8, "no valid triplet (b)").empty());
  CHECK(w.note(3, 7, 8, "no valid triplet (c)").empty());
  CHECK(w.count() == 3);
  const std::string summary = w.end_epoch(3, 8);
  CHECK(summary.find("epoch 3: 3 of 8 steps") != std::string::npos);
  CHECK(summary.find("batch 7: no valid triplet (c)") != std::string::npos);
  CHECK(w.count() == 0);
  CHECK(w.end_epoch(4, 8).empty());                 // no warning: no line
  CHECK_FALSE(w.note(5, 1, 8, "once").empty());     // a new epoch prints its first again
  CHECK(w.end_epoch(5, 8).empty());                 // a single warning needs no summary
}

#ifdef SPK_TRAIN_BINARY

namespace {

using Run = spk::test::AppRun;

spk::test::TinyCorpus& fx() {
  static spk::test::TinyCorpus f("spk_test_train_pyannote");
  return f;
}

Run run_train(const std::string& args) { return spk::test::run_binary(SPK_TRAIN_BINARY, args); }

// The tiny corpus without evaluation, one epoch, a loss, into save_path `out`.
std::string flags(const std::string& loss, const std::string& out) {
  spk::test::TinyCorpus& f = fx();
  return f.no_eval + " --train_list " + f.train4 + " --max_epoch 1 --save_path " + f.file(out) + " --trainfunc " + loss;
}

void check_failure(const std::string& args, const std::string& needle, const std::string& out) {
  const Run r = run_train(args);
  INFO("spk_train " << args << "\n" << r.output);
  CHECK(r.status == 2);
  CHECK(r.output.find("spk_train: error:") != std::string::npos);
  CHECK(r.output.find(needle) != std::string::npos);
  CHECK_FALSE(fs::exists(fx().file(out) + "/model"));   // before any work: no checkpoint
}

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("spk_train: a loss warning is logged once per epoch, with a summary of the rest") {
  // One speaker per batch: pyannote_triplet finds no negative, so every step is degenerate (loss 0, a warning).
  // 4 speakers x 4 utterances, 2 per speaker: 8 batches an epoch.
  const std::string args = flags("pyannote_triplet", "warn") + " --nPerSpeaker 2 --batch_size 1 --max_epoch 2";
  const Run r = run_train(args);
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(count_of(r.output, "loss warning at epoch ") == 2);
  CHECK(count_of(r.output, "loss warning at epoch 1, batch 1 of 8: pyannote_triplet") == 1);
  CHECK(count_of(r.output, "loss warning at epoch 2, batch 1 of 8: pyannote_triplet") == 1);
  CHECK(count_of(r.output, "loss warnings in epoch 1: 8 of 8 steps") == 1);
  CHECK(count_of(r.output, "loss warnings in epoch 2: 8 of 8 steps") == 1);
  CHECK(count_of(r.output, "found no valid triplet") == 4);   // two first lines, two summaries: no flood
}

TEST_CASE("spk_train: a batch with valid triplets logs no loss warning") {
  const Run r = run_train(flags("pyannote_triplet", "nowarn") + " --nPerSpeaker 2 --batch_size 2");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("loss warning") == std::string::npos);
}

TEST_CASE("spk_train: the pyannote classification losses need --nClasses to cover every speaker") {
  for (const char* loss : {"arc_linear", "coco", "center", "pyannote_softmax"}) {
    CAPTURE(loss);
    const std::string out = std::string("classes_") + loss;
    check_failure(flags(loss, out) + " --nClasses 3", "--nClasses: 3 is fewer than the 4 speakers", out);
  }
  // nClasses 0 takes the count from the list: the run works.
  const Run r = run_train(flags("coco", "classes_ok") + " --nClasses 0");
  INFO(r.output);
  CHECK(r.status == 0);
}

TEST_CASE("spk_train: arc_linear's margin follows the margin ramp; a loss without a margin refuses it") {
  const std::string ramp = " --initial_margin 0 --increase_start_epoch 1 --fix_start_epoch 3 --margin 0.2";
  const Run r = run_train(flags("arc_linear", "ramp") + ramp);
  INFO(r.output);
  REQUIRE(r.status == 0);
  const Checkpoint ck = read_checkpoint(fx().file("ramp") + "/model/last.safetensors");
  const int64_t steps = ck.state.step;
  REQUIRE(steps > 1);
  MarginSchedule ms;
  ms.initial_margin = 0;
  ms.final_margin = 0.2;
  ms.increase_start_epoch = 1;
  ms.fix_start_epoch = 3;
  ms.epoch_iter = steps;   // one epoch's batches, all applied
  const double expected = ms(steps - 1);   // the last step of epoch 1, partway up the ramp
  REQUIRE(ck.file.metadata.count("spk.margin") == 1);
  const double saved = std::stod(ck.file.metadata.at("spk.margin"));
  CHECK(saved == doctest::Approx(expected).epsilon(1e-12));
  CHECK(saved != doctest::Approx(0.1));   // not arc_linear's own default margin (pyannote aam_margin)
  check_failure(flags("coco", "ramp_coco") + ramp, "--increase_start_epoch", "ramp_coco");
}

TEST_CASE("spk_train: contrastive and pyannote_triplet need --nPerSpeaker >= 2, checked before any work") {
  for (const char* loss : {"contrastive", "pyannote_triplet"}) {
    CAPTURE(loss);
    const std::string out = std::string("per_spk_") + loss;
    check_failure(flags(loss, out) + " --nPerSpeaker 1", "--nPerSpeaker", out);
    check_failure(flags(loss, out) + " --nPerSpeaker 1", ">= 2", out);
  }
}

#endif
