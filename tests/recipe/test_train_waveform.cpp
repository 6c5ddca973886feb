// Training the raw-waveform models (SincTDNN, RawNet3): a few Adam steps with their recipes' losses on synthetic
// speakers lower the loss (the model and loss alone), and spk_train runs an epoch on the tiny corpus through
// --frontend auto (= waveform), saves a checkpoint with the references' names and evaluates EER on waveform crops.
#include <cmath>
#include <filesystem>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "apps/recipe/checkpoint.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "losses/loss.h"
#include "nets/model.h"
#include "recipe/app_run.h"
#include "recipe/tiny_corpus.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;

namespace {

// Speaker k (of 4) hums at its own pitch (110·(k+1) Hz) with two harmonics, plus noise: rows 2k, 2k+1.
std::pair<Tensor, Tensor> synthetic_speakers(int64_t samples, uint64_t seed = 5) {
  Rng rng(seed);
  const Tensor noise = Tensor::normal({8, 1, samples}, rng, 0, 0.05);
  std::vector<double> wav(size_t(8 * samples));
  const auto nz = noise.to_double();
  for (int64_t r = 0; r < 8; ++r) {
    const double f0 = 110.0 * double(r / 2 + 1), phase = 0.7 * double(r);
    for (int64_t t = 0; t < samples; ++t) {
      const double s = double(t) / 16000.0;
      double v = 0;
      for (int h = 1; h <= 3; ++h) v += std::sin(2 * std::numbers::pi * f0 * h * s + phase * h) / h;
      wav[size_t(r * samples + t)] = 0.3 * v + nz[size_t(r * samples + t)];
    }
  }
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3}, {8});
  return {Tensor::from_vector(wav, {8, 1, samples}), labels};
}

// Adam (lr) on model + loss parameters, 6 steps on one batch of synthetic_speakers: the loss falls by 20 % or more.
void check_loss_falls(SpeakerNet& net, Loss& loss, int64_t samples, double lr) {
  auto [wav, labels] = synthetic_speakers(samples);
  NamedTensors params = net.named_parameters();
  for (auto& p : loss.named_parameters()) params.push_back({"loss." + p.first, p.second});
  Adam opt(params, lr);
  net.train();
  std::vector<double> losses;
  for (int step = 0; step < 6; ++step) {
    opt.zero_grad();
    Tensor l = loss.forward(net.forward(wav), labels).loss;
    losses.push_back(l.item());
    l.backward();
    opt.step();
  }
  std::string all;
  for (double l : losses) all += " " + std::to_string(l);
  INFO("losses" << all);
  CHECK(std::isfinite(losses[5]));
  CHECK(losses[5] < 0.8 * losses[0]);
}

ModelConfig waveform_model(int64_t nOut, int64_t C = 1024) {
  ModelConfig c;
  c.n_mels = 1;
  c.nOut = nOut;
  c.encoder_type = "";
  c.C = C;
  return c;
}

}  // namespace

TEST_CASE("SincTDNN: a few AAM (arc_linear, m 0.05, s 10) steps on synthetic speakers lower the loss") {
  auto m = make_model("SincTDNN", waveform_model(64));
  LossConfig lc;
  lc.nOut = 64;
  lc.nClasses = 4;
  lc.pyannote_aam_margin = 0.05;
  lc.pyannote_aam_scale = 10;
  auto loss = make_loss("arc_linear", lc);
  check_loss_falls(*m, *loss, 3200, 1e-4);
}

TEST_CASE("RawNet3: a few AAM-softmax steps on synthetic speakers lower the loss") {
  auto m = make_model("RawNet3", waveform_model(32, 64));
  LossConfig lc;
  lc.nOut = 32;
  lc.nClasses = 4;
  lc.margin = 0.2;
  lc.scale = 30;
  auto loss = make_loss("aamsoftmax", lc);
  check_loss_falls(*m, *loss, 1600, 0.001);
}

#ifdef SPK_TRAIN_BINARY

namespace {

spk::test::TinyCorpus& fx() {
  static spk::test::TinyCorpus f("spk_test_train_waveform");
  return f;
}

// The tiny corpus's flags with another model and loss (max_frames 20 = 3,440 samples: above SincTDNN's 2,646).
std::string flags(const std::string& model_and_loss, const std::string& out) {
  std::string c = fx().common;
  const std::string from = "--model ResNetSE34L --nOut 16 --trainfunc softmax";
  c.replace(c.find(from), from.size(), model_and_loss);
  return c + " --train_list " + fx().train4 + " --max_epoch 1 --save_path " + fx().file(out);
}

// The checkpoint holds `name` (under whatever prefix the checkpoint puts before the model's names).
bool has_name(const Checkpoint& ck, const std::string& name) {
  for (const auto& [n, t] : ck.file.tensors)
    if (n.size() >= name.size() && n.compare(n.size() - name.size(), name.size(), name) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("spk_train: SincTDNN (arc_linear) and RawNet3 (aamsoftmax) train an epoch on waveforms and evaluate") {
  struct Run {
    std::string args, out, name;
  };
  for (const Run& run : {Run{"--model SincTDNN --nOut 16 --trainfunc arc_linear", "sinc", "sincnet_.conv1d_.0.low_hz_"},
                         Run{"--model RawNet3 --C 64 --nOut 16 --trainfunc aamsoftmax", "rawnet3",
                             "conv1.filterbank.window_"}}) {
    const spk::test::AppRun r = spk::test::run_binary(SPK_TRAIN_BINARY, flags(run.args, run.out));
    INFO(run.args << "\n" << r.output);
    REQUIRE(r.status == 0);
    CHECK(r.output.find("EER") != std::string::npos);
    const Checkpoint ck = read_checkpoint(fx().file(run.out) + "/model/last.safetensors");
    CHECK(has_name(ck, run.name));
  }
}

#endif
