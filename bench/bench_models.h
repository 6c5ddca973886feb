// The two models of issue 18's side-by-side comparison (bench/torch/compare_cpu.py builds the same in PyTorch),
// shared by the training-step and extraction entries.
//   ResNetSE34L  40 mels, 512-d SAP (voxceleb_trainer's recipe)
//   ECAPA-TDNN   C = 512, 80 mels, 192-d (attentive statistics pooling)
#pragma once
#include "nets/model.h"

namespace spk::bench {

inline ModelConfig resnet_config() {
  ModelConfig mc;
  mc.n_mels = 40;
  mc.nOut = 512;
  mc.encoder_type = "SAP";
  return mc;
}

inline ModelConfig ecapa_config() {
  ModelConfig mc;
  mc.n_mels = 80;
  mc.nOut = 192;
  mc.C = 512;
  mc.encoder_type = "";
  return mc;
}

}  // namespace spk::bench
