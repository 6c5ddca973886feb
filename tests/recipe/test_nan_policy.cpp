// --nan_policy of spk_train on the tiny corpus, with NaN injected through SPK_FAULT (train.loss / train.grad, fail):
// stop names the step, the batch's files and the last complete checkpoint; skip leaves the parameters and the
// optimiser untouched, counts the step, and stops after --nan_max_skips in a row. A real divergence (a learning
// rate far too high) is caught the same way. Bad values of the flags or of SPK_FAULT fail before any work.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "apps/recipe/checkpoint.h"
#include "engine/audio/lists.h"
#include "engine/safetensors.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"
#include "support/check.h"

#ifdef SPK_TRAIN_BINARY

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

using Run = spk::test::AppRun;

spk::test::TinyCorpus& corpus() {
  static spk::test::TinyCorpus c("spk_test_nan");
  return c;
}

Run run_train(const std::string& args, const std::string& env = "") {
  return spk::test::run_binary(SPK_TRAIN_BINARY, args, env);
}

// 4 batches of 4 speakers per epoch.
std::string train_args(const std::string& name, int epochs) {
  const auto& c = corpus();
  return c.no_eval + " --train_list " + c.train4 + " --max_epoch " + std::to_string(epochs) + " --save_path " +
         c.file(name);
}

// The files the last message lists after "the batch's files: ", up to the next ';'.
std::vector<std::string> listed_files(const std::string& output) {
  const std::string key = "the batch's files: ";
  const size_t at = output.rfind(key);
  if (at == std::string::npos) return {};
  const size_t end = output.find(';', at);
  std::vector<std::string> files;
  std::stringstream s(output.substr(at + key.size(), end - at - key.size()));
  for (std::string f; std::getline(s, f, ',');) files.push_back(f.substr(f.find_first_not_of(' ')));
  return files;
}

// The batch's files are real files of the training list, one per speaker.
void check_batch_files(const std::string& output) {
  const std::vector<std::string> files = listed_files(output);
  CHECK(files.size() == 4);
  const audio::TrainList list = audio::read_train_list(corpus().train4, corpus().file("wav"));
  const std::set<std::string> listed(list.paths.begin(), list.paths.end());
  for (const auto& f : files) {
    CAPTURE(f);
    CHECK(listed.count(f) == 1);
  }
}

bool all_finite(const std::string& ckpt) {
  for (const auto& [name, t] : load_safetensors(ckpt).tensors) {
    if (t.dtype() != DType::f32) continue;
    const float* p = t.contiguous().data<float>();
    for (int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(p[i])) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("--nan_policy stop: a NaN loss stops the run naming the step, the batch's files and the checkpoint") {
  const Run r = run_train(train_args("stop_loss", 2), "SPK_FAULT=train.loss:fail@6");
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(r.output.find("spk_train: error: training stopped (--nan_policy stop): the loss is NaN at epoch 2, batch 2 "
                      "of 4 (step 6, lr 0.001); the batch's files: ") != std::string::npos);
  check_batch_files(r.output);
  const std::string last = corpus().file("stop_loss") + "/model/last.safetensors";
  CHECK(r.output.find("lower --lr or check those files, or pass --nan_policy skip; the last complete checkpoint is " +
                      last + " (epoch 1): a rerun with the same --save_path resumes from it") != std::string::npos);
  CHECK(read_checkpoint(last).state.epoch == 1);
}

TEST_CASE("--nan_policy stop: a non-finite gradient with a finite loss stops the run too") {
  const Run r = run_train(train_args("stop_grad", 1), "SPK_FAULT=train.grad:fail@2");
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(std::regex_search(r.output, std::regex(R"(training stopped \(--nan_policy stop\): a gradient is not finite )"
                                               R"(\(the loss is [0-9.]+\) at epoch 1, batch 2 of 4 \(step 2, )")));
  check_batch_files(r.output);
  CHECK(r.output.find("no checkpoint was written yet, so a rerun starts from the beginning") != std::string::npos);
  CHECK(!fs::exists(corpus().file("stop_grad") + "/model/last.safetensors"));
}

TEST_CASE("--nan_policy skip: the steps are skipped and counted, and the run goes on") {
  const Run r = run_train(train_args("skip", 2) + " --nan_policy skip --nan_max_skips 2",
                          "SPK_FAULT=train.loss:fail@2-3,train.grad:fail@5");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("skipped step: the loss is NaN at epoch 1, batch 2 of 4 (step 2, lr 0.001) (1 in a row, at "
                      "most 2); the batch's files: ") != std::string::npos);
  CHECK(r.output.find("skipped step: the loss is NaN at epoch 1, batch 3 of 4 (step 2, lr 0.001) (2 in a row")
        != std::string::npos);
  // train.grad counts the steps whose loss was finite: its 5th hit is epoch 2, batch 3.
  CHECK(r.output.find("skipped step: a gradient is not finite") != std::string::npos);
  CHECK(r.output.find("at epoch 2, batch 3 of 4 (step 5, lr 0.001) (1 in a row") != std::string::npos);
  CHECK(r.output.find("epoch 1: ") != std::string::npos);
  CHECK(r.output.find("skipped 2 non-finite steps") != std::string::npos);
  CHECK(r.output.find("skipped 1 non-finite steps") != std::string::npos);
  // 8 batches, 3 skipped: 5 optimiser steps, and nothing of the skipped batches reached the parameters.
  const std::string last = corpus().file("skip") + "/model/last.safetensors";
  const Checkpoint ck = read_checkpoint(last);
  CHECK(ck.state.epoch == 2);
  CHECK(ck.state.step == 5);
  CHECK(all_finite(last));
}

TEST_CASE("--nan_policy skip: more than --nan_max_skips in a row stops the run, across an epoch's end") {
  // Hits 3 and 4 are the last batches of epoch 1, hit 5 the first of epoch 2.
  const Run r = run_train(train_args("skip_limit", 2) + " --nan_policy skip --nan_max_skips 2",
                          "SPK_FAULT=train.loss:fail@3-5");
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(r.output.find("training stopped (--nan_policy skip): 3 steps in a row had a non-finite loss or gradient, "
                      "more than --nan_max_skips 2; the last: the loss is NaN at epoch 2, batch 1 of 4 (step 3, ")
        != std::string::npos);
  check_batch_files(r.output);
  CHECK(r.output.find("/model/last.safetensors (epoch 1)") != std::string::npos);
}

TEST_CASE("--nan_policy: a real divergence (a learning rate far too high) is caught") {
  const Run r = run_train(train_args("diverge", 3) + " --optimizer sgd --lr 1e30");
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(std::regex_search(r.output, std::regex(R"(training stopped \(--nan_policy stop\): (the loss is (NaN|-?inf))"
                                               R"(|(a gradient is not finite)))")));
  check_batch_files(r.output);
}

TEST_CASE("--nan_policy, --nan_max_skips and SPK_FAULT: bad values fail before any work") {
  const std::string ok = train_args("bad_values", 1);
  const struct {
    std::string args, env, says;
    int status;
  } cases[] = {
      {ok + " --nan_policy maybe", "", "--nan_policy: unknown policy 'maybe' (stop, skip)", 2},
      {ok + " --nan_max_skips 0", "", "--nan_max_skips: must be at least 1, got 0", 2},
      {ok, "SPK_FAULT=train.los:fail", "SPK_FAULT='train.los:fail': rule 'train.los:fail': unknown point", 1},
      {ok, "SPK_FAULT=train.step:fail@2", "point train.step has no failure to simulate", 1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args);
    CAPTURE(c.env);
    const Run r = run_train(c.args, c.env);
    INFO(r.output);
    CHECK(r.status == c.status);
    CHECK(r.output.find("spk_train: error: ") != std::string::npos);
    CHECK(r.output.find(c.says) != std::string::npos);
  }
  CHECK(!fs::exists(corpus().file("bad_values") + "/model"));
}

#endif  // SPK_TRAIN_BINARY
