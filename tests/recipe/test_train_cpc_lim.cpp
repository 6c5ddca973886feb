// spk_train --ssl with ssl-for-slr's frame-level methods (--trainfunc cpc, lim, gim; losses/cpc.h, lim.h) and the
// CPCEncoder on the tiny synthetic corpus, labels withheld: CPC's and GIM's losses fall over a few epochs (a
// learning outcome: the later epochs well below the first); a LIM run resumed mid-way gives the very parameters of
// the straight run (its random chunk draws come from the checkpointed Rng); the heads are saved with the loss and
// spk_eval embeds with the encoder alone; every bad input stops before any work, naming its flag.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/recipe/checkpoint.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"
#include "support/check.h"

#ifdef SPK_TRAIN_BINARY

using namespace spk;
using namespace spk::recipe;
namespace fs = std::filesystem;

namespace {

using Run = spk::test::AppRun;

spk::test::TinyCorpus& fx() {
  static spk::test::TinyCorpus f("spk_test_train_cpc_lim");
  return f;
}

Run run_train(const std::string& args) { return spk::test::run_binary(SPK_TRAIN_BINARY, args); }

// The tiny corpus (no evaluation), the CPC encoder (16 wide) on 0.2-s crops (19 frames), unlabelled: train4's
// 16 files read with --ssl (labels ignored), batches of 4 utterances.
std::string frame_flags(const std::string& method, const std::string& out) {
  std::string c = fx().no_eval;
  const std::string from = "--model ResNetSE34L --nOut 16 --trainfunc softmax";
  c.replace(c.find(from), from.size(), "--model CPCEncoder --nOut 16 --trainfunc " + method);
  return c + " --ssl --train_list " + fx().train4 + " --save_path " + fx().file(out);
}

// The loss column of train_log.csv, one value per epoch.
std::vector<double> epoch_losses(const std::string& save_path) {
  std::ifstream f(save_path + "/train_log.csv");
  std::string line;
  std::getline(f, line);
  std::vector<double> out;
  while (std::getline(f, line)) {
    std::stringstream s(line);
    std::string cell;
    for (int c = 0; c < 4 && std::getline(s, cell, ','); ++c) {}
    out.push_back(std::stod(cell));
  }
  return out;
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

void check_failure(const std::string& args, const std::string& needle, const std::string& out) {
  const Run r = run_train(args);
  INFO("spk_train " << args << "\n" << r.output);
  CHECK(r.status == 2);
  CHECK(r.output.find("spk_train: error: " + needle) != std::string::npos);
  CHECK_FALSE(fs::exists(fx().file(out)));   // before any work
}

}  // namespace

TEST_CASE("spk_train --ssl --trainfunc cpc / gim: the loss falls on the tiny corpus; the heads are the loss's") {
  // gim with 8-frame chunks (the LIM/GIM loss class): single-frame LIM needs many more steps than this corpus's
  // 4 a epoch to leave chance on 0.2-s crops (measured: still 0.92 of its first epoch after 15 epochs).
  struct Method { std::string flags, out, head; int epochs; };
  for (const Method& m : {Method{"cpc --cpc_steps 4 --cpc_context_dim 8", "cpc", "__L__.gru.weight_hh_l0", 6},
                          Method{"gim --lim_context_length 8 --lim_hidden 16", "gim", "__L__.disc.0.weight", 12}}) {
    // --ssl_aug false: a few tiny epochs cannot learn through the synthetic noise (the augmentation has its own
    // tests, as in test_train_ssl.cpp's loss-falls case).
    const Run a = run_train(frame_flags(m.flags, m.out) + " --max_epoch " + std::to_string(m.epochs) +
                            " --lr 0.005 --ssl_aug false");
    INFO(a.output);
    REQUIRE(a.status == 0);
    const std::vector<double> loss = epoch_losses(fx().file(m.out));
    REQUIRE(loss.size() == size_t(m.epochs));
    const double last2 = (loss[size_t(m.epochs - 2)] + loss[size_t(m.epochs - 1)]) / 2;
    CAPTURE(m.out);
    CAPTURE(loss[0]);
    CAPTURE(last2);
    // A learning outcome, not a number that merely moved: the last two epochs well below the first.
    CHECK(last2 < 0.8 * loss[0]);
    const Checkpoint c = read_checkpoint(fx().file(m.out) + "/model/last.safetensors");
    bool head = false, model_gru = false;
    for (const auto& [name, t] : c.file.tensors) {
      head = head || name == m.head;
      model_gru = model_gru || (name.rfind("__S__.", 0) == 0 && name.find("gru") != std::string::npos);
    }
    CHECK(head);
    CHECK_FALSE(model_gru);
  }
}

TEST_CASE("spk_train --ssl --trainfunc lim: a resumed run gives the straight run's parameters") {
  const std::string flags = " --lim_hidden 8 --lim_loss nce";
  REQUIRE(run_train(frame_flags("lim" + flags, "lim_straight") + " --max_epoch 2").status == 0);
  REQUIRE(run_train(frame_flags("lim" + flags, "lim_resumed") + " --max_epoch 1").status == 0);
  const Run b = run_train(frame_flags("lim" + flags, "lim_resumed") + " --max_epoch 2");
  INFO(b.output);
  REQUIRE(b.status == 0);
  CHECK(b.output.find("resuming from") != std::string::npos);
  const Checkpoint ca = read_checkpoint(fx().file("lim_straight") + "/model/last.safetensors");
  const Checkpoint cb = read_checkpoint(fx().file("lim_resumed") + "/model/last.safetensors");
  CHECK(ca.state.step == 8);
  CHECK(cb.state.step == 8);
  CHECK(same_tensors(ca.file, cb.file));
}

#ifdef SPK_EVAL_BINARY
TEST_CASE("spk_eval embeds a CPC checkpoint with the encoder alone (mean of its frames)") {
  const Run r = run_train(frame_flags("cpc --cpc_steps 4 --cpc_context_dim 8", "cpc_eval") + " --max_epoch 1");
  INFO(r.output);
  REQUIRE(r.status == 0);
  const std::string ck = fx().file("cpc_eval") + "/model/last.safetensors";
  const Run e = spk::test::run_binary(SPK_EVAL_BINARY, "--initial_model " + ck + " --test_list " + fx().trials +
                                                           " --test_path " + (fx().dir / "wav").string() +
                                                           " --eval_frames 20 --num_eval 2 --nDataLoaderThread 1 "
                                                           "--json " + fx().file("cpc_eval.json"));
  INFO(e.output);
  REQUIRE(e.status == 0);
  CHECK(e.last_line().rfind("EER ", 0) == 0);
  std::ifstream jf(fx().file("cpc_eval.json"));
  CHECK(nlohmann::json::parse(jf)["model"]["embedding_dim"] == 16);
}
#endif

TEST_CASE("spk_train --trainfunc cpc / lim / gim: bad input stops before any work, naming the flag") {
  check_failure(frame_flags("cpc --cpc_steps 19", "f1"), "--max_frames: 20 gives crops of 19 CPCEncoder frames, no "
                "context before the --cpc_steps 19 predicted ones", "f1");
  check_failure(frame_flags("gim", "f2"), "--max_frames: 20 gives crops of 19 CPCEncoder frames, fewer than the chunk "
                "of 32 frames (--lim_context_length)", "f2");
  std::string no_ssl = frame_flags("cpc --cpc_steps 4", "f3");
  no_ssl.replace(no_ssl.find(" --ssl "), 7, " --nPerSpeaker 2 ");   // past the nPerSpeaker check, to the method's
  check_failure(no_ssl, "--trainfunc: cpc is a self-supervised method (ssl-for-slr) that reads no labels: pass --ssl", "f3");
  std::string mel = frame_flags("lim", "f4");
  mel.replace(mel.find("--model CPCEncoder"), 18, "--model ResNetSE34L");
  check_failure(mel, "--model: ResNetSE34L gives no frame-level encoding, which --trainfunc lim reads", "f4");
  check_failure(frame_flags("lim --lim_loss jsd", "f5"), "--lim_loss: unknown value 'jsd' (bce, mine, nce)", "f5");
  check_failure(frame_flags("cpc --cpc_steps 0", "f6"), "--cpc_steps: must be at least 1, got 0", "f6");
  check_failure(frame_flags("lim --lim_hidden 0", "f7"), "--lim_hidden: must be at least 1, got 0", "f7");
  check_failure(frame_flags("cpc --cpc_context_dim 0", "f8"), "--cpc_context_dim: must be at least 1, got 0", "f8");
  check_failure(frame_flags("lim --trainfunc2 uniform", "f9"), "--trainfunc2: uniform with --trainfunc lim", "f9");
  check_failure(frame_flags("angleproto --trainfunc2 cpc", "f10"), "--trainfunc2: cpc reads the model's frames", "f10");
  check_failure(frame_flags("lim --lim_context_length -1", "f11"), "--lim_context_length: must be 0", "f11");
}

#endif
