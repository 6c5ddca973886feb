// Whole training steps, as the trainer runs them on synthetic input: fbank + forward + loss + backward + Adam step
// (+ zero_grad). The shapes are issue 18's side-by-side comparison with PyTorch (bench/torch/compare_cpu.py runs the
// same models on the same batch): 20 speakers x 2 two-second crops = 40 rows of 32,240 samples (202 frames).
//   ResNetSE34L  40 mels, 512-d SAP, angleproto over (20, 2, 512)      voxceleb_trainer's recipe
//   ECAPA-TDNN   C = 512, 80 mels, 192-d, AAM-softmax (m 0.2, s 30) over 5,994 classes, 40 rows
// Synthetic input keeps the data loader out (bench_loader.cpp times that): what is left is the engine's own cost.
// Samples per second = 40 / the line's time; compare_cpu.py computes it from --json.
#include <memory>

#include "bench.h"
#include "bench_models.h"
#include "engine/audio/fbank.h"
#include "engine/autocast.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "losses/loss.h"
#include "nets/model.h"

namespace {

constexpr int64_t kSpeakers = 20, kPerSpeaker = 2, kRows = kSpeakers * kPerSpeaker, kSamples = 32240;

struct Step {
  std::shared_ptr<spk::SpeakerNet> model;
  std::shared_ptr<spk::Loss> loss;
  std::unique_ptr<spk::Adam> optim;
  spk::FbankConfig fbank;
  spk::Tensor wav, labels;
  int64_t groups = 0;   // > 0: the loss takes (groups, rows / groups, D)

  // bf16: forward and loss under autocast bf16, as the trainer runs --mixedprec bf16 (backward follows the modes
  // the forward recorded).
  void run(bool bf16) {
    spk::Tensor loss_value;
    {
      const spk::AutocastGuard autocast(bf16 ? std::optional<spk::DType>(spk::DType::bf16) : std::nullopt);
      spk::Tensor emb = model->forward(spk::fbank(wav, fbank));
      if (groups > 0) emb = spk::reshape(emb, {groups, kRows / groups, emb.size(1)});
      loss_value = loss->forward(emb, labels).loss;
    }
    loss_value.backward();
    optim->step();
    optim->zero_grad();
  }
};

std::shared_ptr<Step> make_step(const std::string& model_name, const spk::ModelConfig& mc, const std::string& fbank,
                                const std::string& loss_name, const spk::LossConfig& lc, bool grouped) {
  auto s = std::make_shared<Step>();
  spk::Rng rng(7);
  s->model = spk::make_model(model_name, mc, rng);
  s->loss = spk::make_loss(loss_name, lc);
  spk::NamedTensors params = s->model->named_parameters();
  for (auto& p : s->loss->named_parameters()) params.push_back({"loss." + p.first, p.second});
  s->optim = std::make_unique<spk::Adam>(params, 1e-3);
  s->fbank = spk::fbank_preset(fbank);
  s->fbank.n_mels = int(mc.n_mels);
  s->wav = spk::Tensor::uniform({kRows, kSamples}, rng, -0.5, 0.5);
  std::vector<int64_t> labels(size_t(grouped ? kSpeakers : kRows));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = int64_t(i * 131 % size_t(lc.nClasses));
  s->labels = spk::Tensor::from_vector(labels, {int64_t(labels.size())});
  s->groups = grouped ? kSpeakers : 0;
  s->model->train();
  return s;
}

}  // namespace

// Variant "autocast bf16": the same step under --mixedprec bf16 (engine/autocast.h): on a CPU with AVX512-BF16 or
// AMX the convs run oneDNN's bf16 kernels (kernels/conv/conv.h ConvCpuOptions::bf16), the GEMMs are emulated.
SPK_BENCH_ENTRIES(step_entries) {
  for (bool bf16 : {false, true}) {
    const std::string variant = bf16 ? "cpu wav->step autocast bf16" : "cpu wav->step";
    {
      spk::bench::Entry e;
      e.op = "train_step(ResNetSE34L,SAP,512,angleproto,B=20x2,L=32240)";
      e.variant = variant;   // front end, forward, loss, backward, Adam (no "fbank": --filter fbank is the suite)
      e.note = "40 samples/run";
      e.setup = [bf16] {
        const spk::ModelConfig mc = spk::bench::resnet_config();
        spk::LossConfig lc;
        lc.nOut = 512;
        lc.nPerSpeaker = kPerSpeaker;
        auto s = make_step("ResNetSE34L", mc, "resnetse34l", "angleproto", lc, true);
        return std::function<void()>([s, bf16] { s->run(bf16); });
      };
      spk::bench::add(std::move(e));
    }
    {
      spk::bench::Entry e;
      e.op = "train_step(ECAPA_TDNN,C=512,192,aamsoftmax,B=40,L=32240)";
      e.variant = variant;
      e.note = "40 samples/run";
      e.setup = [bf16] {
        const spk::ModelConfig mc = spk::bench::ecapa_config();
        spk::LossConfig lc;
        lc.nOut = 192;
        lc.nClasses = 5994;
        lc.margin = 0.2;
        lc.scale = 30;
        auto s = make_step("ECAPA_TDNN", mc, "ecapa", "aamsoftmax", lc, false);
        return std::function<void()>([s, bf16] { s->run(bf16); });
      };
      spk::bench::add(std::move(e));
    }
  }
}
