// Whole-utterance embedding extraction as spk_eval does it with --eval_frames 0: one utterance (batch 1), eval mode,
// no autograd, fbank included. 6-s and 20-s utterances for ResNetSE34L (40 mels, 512-d SAP) and ECAPA-TDNN C=512
// (80 mels, 192-d). bench/torch/compare_cpu.py times the same in PyTorch eager (torch.inference_mode).
// Variant "bn-folded": as spk_eval runs it by default (--fold_bn, apps/recipe/eval_fold_bn.h); ECAPA has nothing to
// fold, so it has only the plain variant.
// Variant "2 files at once": two utterances embedded concurrently, each on one thread (spk_eval --eval_jobs 2:
// engine/cpu_threads.h SingleThreadScope); one run is worth both utterances' audio.
// Variant "autocast bf16": spk_eval --mixedprec bf16 (the model under autocast, the front end fp32; on a CPU with
// AVX512-BF16/AMX the convs run oneDNN's bf16 kernels).
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "apps/recipe/eval_fold_bn.h"
#include "bench.h"
#include "bench_models.h"
#include "engine/audio/fbank.h"
#include "engine/autocast.h"
#include "engine/autograd.h"
#include "engine/cpu_threads.h"
#include "engine/rng.h"
#include "nets/model.h"

namespace {

struct Extract {
  std::shared_ptr<spk::SpeakerNet> model;
  spk::FbankConfig fbank;
  std::vector<spk::Tensor> wavs;   // one per file embedded at once
  std::optional<spk::DType> autocast;

  void embed(const spk::Tensor& wav) {
    spk::NoGradGuard no_grad;
    spk::Tensor feats = spk::fbank(wav, fbank);
    const spk::AutocastGuard guard(autocast);
    (void)model->forward(feats);
  }
  void run() {
    if (wavs.size() == 1) return embed(wavs[0]);
    std::vector<std::thread> others;
    for (size_t j = 1; j < wavs.size(); ++j)
      others.emplace_back([this, j] {
        spk::SingleThreadScope one;
        embed(wavs[j]);
      });
    {
      spk::SingleThreadScope one;
      embed(wavs[0]);
    }
    for (auto& t : others) t.join();
  }
};

void add_extract(const std::string& model_name, const spk::ModelConfig& mc, const std::string& fbank, int seconds,
                 bool fold, int jobs = 1, bool bf16 = false) {
  spk::bench::Entry e;
  e.op = "extract(" + model_name + (mc.C == 512 && model_name == "ECAPA_TDNN" ? ",C=512" : "") + "," +
         std::to_string(mc.nOut) + ",B=1,L=" + std::to_string(seconds * 16000) + ")";
  e.variant = fold ? "cpu eval wav->emb bn-folded" : "cpu eval wav->emb";   // front end included
  if (jobs > 1) e.variant += " " + std::to_string(jobs) + " files at once";
  if (bf16) e.variant += " autocast bf16";
  e.note = std::to_string(seconds * jobs) + " s of audio/run";
  e.setup = [model_name, mc, fbank, seconds, fold, jobs, bf16] {
    auto s = std::make_shared<Extract>();
    if (bf16) s->autocast = spk::DType::bf16;
    spk::Rng rng(7);
    s->model = spk::make_model(model_name, mc, rng);
    s->model->eval();
    if (fold) spk::recipe::fold_batch_norms(*s->model);
    s->fbank = spk::fbank_preset(fbank);
    s->fbank.n_mels = int(mc.n_mels);
    for (int j = 0; j < jobs; ++j) s->wavs.push_back(spk::Tensor::uniform({1, int64_t(seconds) * 16000}, rng, -0.5, 0.5));
    return std::function<void()>([s] { s->run(); });
  };
  spk::bench::add(std::move(e));
}

}  // namespace

SPK_BENCH_ENTRIES(extract_entries) {
  const spk::ModelConfig resnet = spk::bench::resnet_config(), ecapa = spk::bench::ecapa_config();
  for (int seconds : {6, 20})
    for (bool fold : {false, true}) add_extract("ResNetSE34L", resnet, "resnetse34l", seconds, fold);
  for (int seconds : {6, 20}) add_extract("ECAPA_TDNN", ecapa, "ecapa", seconds, false);
  for (int seconds : {6, 20}) {
    add_extract("ResNetSE34L", resnet, "resnetse34l", seconds, true, 2);
    add_extract("ECAPA_TDNN", ecapa, "ecapa", seconds, false, 2);
  }
  add_extract("ResNetSE34L", resnet, "resnetse34l", 6, true, 1, true);
  add_extract("ECAPA_TDNN", ecapa, "ecapa", 6, false, 1, true);
}
