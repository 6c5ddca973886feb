// spk_train --ssl (self-supervised, docs/ssl.md) on the tiny synthetic corpus: an unlabelled list trains and its
// loss falls, a too-short file is reported at start-up; a labelled list (labels ignored) gives the same model for 1
// and 3 loader threads and across a resume, and a NaN loss stops it naming the step and the last checkpoint; a
// wav.scp reads; CEL pre-training then supervised fine-tuning with --initial_model; SimCLR's projection head saved
// with the loss and dropped by spk_eval; and every bad input stops before any work, naming its flag.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/recipe/checkpoint.h"
#include "engine/audio/audio_file.h"
#include "support/check.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"

#ifdef SPK_TRAIN_BINARY

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

using Run = spk::test::AppRun;

struct SslCorpus {
  spk::test::TinyCorpus tiny{"spk_test_train_ssl"};
  std::string plain, scp, one, short_only;
  SslCorpus() {
    // Every file of the 7 tiny speakers, without labels, plus one too short for two crops of 0.2 s.
    audio::write_audio((tiny.dir / "wav" / "short.wav").string(), spk::test::tiny_voice(0, 0, 3000), 16000);
    plain = tiny.file("plain.txt");
    scp = tiny.file("wav.scp");
    std::ofstream p(plain), s(scp);
    for (int k = 0; k < 7; ++k)
      for (int u = 0; u < 4; ++u) {
        const std::string rel = "s" + std::to_string(k) + "/u" + std::to_string(u) + ".wav";
        p << rel << "\n";
        s << "utt" << k << u << " " << rel << "\n";
      }
    p << "short.wav\n";
    one = tiny.file("one.txt");
    std::ofstream(one) << "s0/u0.wav\ns0/u0.wav\n";   // one distinct file
    short_only = tiny.file("short_only.txt");
    std::ofstream(short_only) << "s0/u0.wav\nshort.wav\n";
  }
};

SslCorpus& fx() {
  static SslCorpus f;
  return f;
}

Run run_train(const std::string& args) { return spk::test::run_binary(SPK_TRAIN_BINARY, args); }

std::string ssl_flags(const std::string& out, const std::string& list = "") {
  return fx().tiny.no_eval + " --ssl --trainfunc angleproto --train_list " + (list.empty() ? fx().plain : list) +
         " --save_path " + fx().tiny.file(out) + " --nDataLoaderThread 1";
}

void check_failure(const std::string& args, const std::string& needle, const std::string& out) {
  const Run r = run_train(args);
  INFO("spk_train " << args << "\n" << r.output);
  CHECK(r.status == 2);
  CHECK(r.output.find("spk_train: error: " + needle) != std::string::npos);
  CHECK_FALSE(fs::exists(fx().tiny.file(out)));   // before any work
}

bool same_tensors(const SafetensorsFile& a, const SafetensorsFile& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const Tensor &x = a.tensors[i].second, &y = b.tensors[i].second;
    if (a.tensors[i].first != b.tensors[i].first || x.shape() != y.shape() || x.dtype() != y.dtype()) return false;
    if (std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.numel()) * dtype_size(x.dtype())) != 0) return false;
  }
  return true;
}

// The loss column of train_log.csv, one value per epoch.
std::vector<double> epoch_losses(const std::string& save_path) {
  std::ifstream f(save_path + "/train_log.csv");
  std::string line;
  std::getline(f, line);   // header: epoch,steps,lr,loss,...
  std::vector<double> out;
  while (std::getline(f, line)) {
    std::stringstream s(line);
    std::string cell;
    for (int c = 0; c < 4 && std::getline(s, cell, ','); ++c) {}
    out.push_back(std::stod(cell));
  }
  return out;
}

}  // namespace

TEST_CASE("spk_train --ssl: an unlabelled list trains and its loss falls; a too-short file is reported") {
  // Without --ssl_aug: a few epochs of 7 steps are too few to learn through random rooms and 5-20 dB noise (the
  // augmentation has its own tests, tests/audio/test_view_augment.cpp); this checks the sampler and the mode.
  // 8 epochs: with 4, the outcome hung on one epoch's 7 batches (the fast fbank's rounding turned a pass into
  // epoch losses 1.73 0.99 0.98 1.73); at 8 the last two (0.75 0.75) are well below the first (1.73).
  const Run a = run_train(ssl_flags("run1") + " --max_epoch 8 --lr 0.005 --ssl_aug false");
  INFO(a.output);
  REQUIRE(a.status == 0);
  CHECK(a.output.find("29 utterances of unknown (--ssl) speakers, 7 batches of 4x2 per epoch") != std::string::npos);
  CHECK(a.output.find("--ssl: 28 of 29 files give two crops at different offsets, 7 batches of 4 utterances x 2 "
                      "views per epoch; 1 files left out, too short for two distinct crops of --max_frames 20 (3442 "
                      "samples or more), e.g. '" + (fx().tiny.dir / "wav" / "short.wav").string() + "'") !=
        std::string::npos);
  const std::vector<double> loss = epoch_losses(fx().tiny.file("run1"));
  REQUIRE(loss.size() == 8);
  CAPTURE(loss[0]);
  CAPTURE(loss[6]);
  CAPTURE(loss[7]);
  // A learning outcome, not a number that merely moved: the last two epochs well below the first.
  CHECK((loss[6] + loss[7]) / 2 < 0.75 * loss[0]);
  const Checkpoint c = read_checkpoint(fx().tiny.file("run1") + "/model/last.safetensors");
  CHECK(c.state.step == 56);
  CHECK(c.state.config["nPerSpeaker"] == 2);
  CHECK(c.state.config["ssl"] == true);
}

TEST_CASE("spk_train --ssl: the same model for 1 and 3 loader threads, and across a resume") {
  // The 16 files of train4 (labels ignored): 4 batches an epoch.
  const std::string args = ssl_flags("straight", fx().tiny.train4) + " --max_epoch 2 --nDataLoaderThread 3";
  const Run a = run_train(args);
  INFO(a.output);
  REQUIRE(a.status == 0);
  CHECK(a.output.find("--ssl: 16 of 16 files give two crops") != std::string::npos);
  REQUIRE(run_train(ssl_flags("resumed", fx().tiny.train4) + " --max_epoch 1").status == 0);
  const Run b = run_train(ssl_flags("resumed", fx().tiny.train4) + " --max_epoch 2");
  INFO(b.output);
  REQUIRE(b.status == 0);
  CHECK(b.output.find("resuming from") != std::string::npos);
  const Checkpoint ca = read_checkpoint(fx().tiny.file("straight") + "/model/last.safetensors");
  const Checkpoint cb = read_checkpoint(fx().tiny.file("resumed") + "/model/last.safetensors");
  CHECK(ca.state.step == 8);
  CHECK(cb.state.step == 8);
  CHECK(same_tensors(ca.file, cb.file));
}

TEST_CASE("spk_train --ssl: a NaN loss stops the run naming the step, the batch's files and the last checkpoint") {
  const Run r = spk::test::run_binary(SPK_TRAIN_BINARY, ssl_flags("nan", fx().tiny.train4) + " --max_epoch 2",
                                      "SPK_FAULT=train.loss:fail@6");
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(r.output.find("spk_train: error: training stopped (--nan_policy stop): the loss is NaN at epoch 2, batch 2 "
                      "of 4 (step 6, lr 0.001); the batch's files: " + (fx().tiny.dir / "wav").string()) !=
        std::string::npos);
  const std::string last = fx().tiny.file("nan") + "/model/last.safetensors";
  CHECK(r.output.find("the last complete checkpoint is " + last + " (epoch 1)") != std::string::npos);
  CHECK(read_checkpoint(last).state.epoch == 1);
}

TEST_CASE("spk_train --ssl reads a wav.scp") {
  const Run s = run_train(ssl_flags("scp", fx().scp) + " --max_epoch 1");
  INFO(s.output);
  REQUIRE(s.status == 0);
  CHECK(s.output.find("--ssl: 28 of 28 files give two crops") != std::string::npos);
}

TEST_CASE("spk_train --ssl: bad input stops before any work, naming the flag") {
  check_failure(ssl_flags("b1") + " --trainfunc softmax", "--trainfunc: softmax trains a classifier over speaker "
                "labels, which --ssl does not have", "b1");
  check_failure(ssl_flags("b2") + " --trainfunc aamsoftmax", "--trainfunc: aamsoftmax trains a classifier", "b2");
  check_failure(ssl_flags("b3") + " --trainfunc2 softmaxproto", "--trainfunc2: softmaxproto trains a classifier", "b3");
  check_failure(ssl_flags("b4") + " --nPerSpeaker 3", "--nPerSpeaker: 3 with --ssl, which draws exactly 2 crops", "b4");
  check_failure(ssl_flags("b5") + " --sampler pyannote", "--sampler: pyannote with --ssl", "b5");
  check_failure(ssl_flags("b6", fx().one), "--train_list " + fx().one + ": --ssl needs at least two files", "b6");
  check_failure(ssl_flags("b7", fx().short_only),
                "--train_list: self-supervised training needs at least two files with two distinct crops of "
                "--max_frames 20 (3442 samples or more), but the list has 1 of 2 files (1 too short, 0 unreadable)",
                "b7");
  check_failure(ssl_flags("b8") + " --batch_size 29", "--batch_size: 29 utterances per batch, but only 28 files", "b8");
  check_failure(ssl_flags("b9") + " --ssl_proj_layers 2", "--ssl_proj_layers: 2 asks for a projection head, which "
                "only --trainfunc ssl_infonce (SimCLR) and moco have", "b9");
  check_failure(ssl_flags("b10") + " --trainfunc ssl_infonce --ssl_proj_layers 2 --ssl_proj_dim 0",
                "--ssl_proj_dim: the projection head's width must be at least 1, got 0", "b10");
  check_failure(fx().tiny.no_eval + " --train_list " + fx().tiny.train4 + " --trainfunc angleproto --nPerSpeaker 2 "
                "--ssl_split --save_path " + fx().tiny.file("b13"), "--ssl_split: only applies to --ssl", "b13");
  check_failure(ssl_flags("b11") + " --train_list " + fx().tiny.file("nowhere.txt"), "--train_list: no such file",
                "b11");
  std::ofstream(fx().tiny.file("three_cols.txt")) << "a s0/u0.wav x\n";
  check_failure(ssl_flags("b12", fx().tiny.file("three_cols.txt")), "--train_list (--ssl): " +
                fx().tiny.file("three_cols.txt") + ":1: expected `path`", "b12");
}

TEST_CASE("spk_train --ssl: CEL pre-training (configs/ssl), then supervised fine-tuning from its checkpoint") {
#ifdef SPK_CONFIGS_DIR
  // The recipe file with the tiny corpus's sizes: the cel loss (A-Contrastive + uniformity), no augmentation.
  const std::string cel = "--config " + std::string(SPK_CONFIGS_DIR) + "/ssl/CEL_ResNetSE34L_acont_unif.yaml " +
                          ssl_flags("cel") + " --trainfunc cel --augment false --max_epoch 2";
  const Run p = run_train(cel);
  INFO(p.output);
  REQUIRE(p.status == 0);
  CHECK(p.output.find("loss cel") != std::string::npos);
  // The recipe's --ssl_split: CEL's non-overlapping views need 2 x 3440 + 2 samples, which u2 and u3 of each
  // speaker have (7400, 8100) and u0, u1 (6000, 6700) have not.
  CHECK(p.output.find("--ssl: 14 of 29 files give two non-overlapping crops, 3 batches of 4 utterances x 2 views "
                      "per epoch; 15 files left out, too short for two non-overlapping crops of --max_frames 20 (6882 "
                      "samples or more)") != std::string::npos);
  const std::string pre = fx().tiny.file("cel") + "/model/last.safetensors";
  REQUIRE(fs::exists(pre));
  // Fine-tuning with labels: the 4-speaker list, A-Contrastive + uniform (CEL's fine-tuning), from the checkpoint.
  const Run f = run_train(fx().tiny.no_eval + " --train_list " + fx().tiny.train4 + " --trainfunc anglecontrast "
                          "--trainfunc2 uniform --nPerSpeaker 2 --batch_size 4 --max_epoch 1 --save_path " +
                          fx().tiny.file("finetune") + " --initial_model " + pre);
  INFO(f.output);
  REQUIRE(f.status == 0);
  // Every model tensor of the pre-trained checkpoint reached the fine-tuned model.
  const Checkpoint ck_pre = read_checkpoint(pre);
  CHECK(ck_pre.state.config["trainfunc"] == "cel");
  int model_tensors = 0;
  for (const auto& [name, t] : ck_pre.file.tensors) model_tensors += name.rfind("__S__.", 0) == 0;
  CHECK(model_tensors > 50);
  CHECK(f.output.find("initial model " + pre + " (spk): " + std::to_string(model_tensors) + " model tensors loaded") !=
        std::string::npos);
  CHECK(read_checkpoint(fx().tiny.file("finetune") + "/model/last.safetensors").state.config["ssl"] == false);
#endif
}

#ifdef SPK_EVAL_BINARY
TEST_CASE("spk_train --ssl SimCLR: the projection head is saved with the loss, and spk_eval embeds without it") {
  const Run r = run_train(ssl_flags("simclr") + " --trainfunc ssl_infonce --ssl_proj_layers 2 --ssl_proj_dim 8 "
                          "--max_epoch 1");
  INFO(r.output);
  REQUIRE(r.status == 0);
  const std::string ck = fx().tiny.file("simclr") + "/model/last.safetensors";
  const Checkpoint c = read_checkpoint(ck);
  int head_tensors = 0;
  for (const auto& [name, t] : c.file.tensors) {
    if (name.find("proj.") == std::string::npos) continue;
    CAPTURE(name);
    // The loss's tensors, or the optimiser's state of them: never a model tensor.
    CHECK((name.rfind("__L__.proj.", 0) == 0 || name.rfind("optim.state.__L__.proj.", 0) == 0));
    head_tensors += name.rfind("__L__.proj.", 0) == 0;
  }
  CHECK(head_tensors == 9);   // fc0 (2), bn0 (5), fc1 (2)
  const Run e = spk::test::run_binary(SPK_EVAL_BINARY, "--initial_model " + ck + " --test_list " + fx().tiny.trials +
                                                           " --test_path " + (fx().tiny.dir / "wav").string() +
                                                           " --eval_frames 20 --num_eval 2 --nDataLoaderThread 1 "
                                                           "--json " + fx().tiny.file("simclr_eval.json"));
  INFO(e.output);
  REQUIRE(e.status == 0);
  CHECK(e.last_line().rfind("EER ", 0) == 0);
  // The embedding is the model's nOut 16, not the head's 8.
  std::ifstream jf(fx().tiny.file("simclr_eval.json"));
  CHECK(nlohmann::json::parse(jf)["model"]["embedding_dim"] == 16);
}
#endif

#endif
