// ECAPA-TDNN, TaoRuijie/ECAPA-TDNN model.py (Desplanques et al., "ECAPA-TDNN", Interspeech 2020, arXiv 2005.07143), C = 512 or 1024.
//
// (B, n_mels = 80, T) -> conv1 Conv1d(n_mels, C, 5, p2) -> ReLU -> bn1
// -> layer1/2/3 Bottle2neck(C, k3, dilation 2/3/4, scale 8) on x, x+x1, x+x1+x2
// -> layer4 Conv1d(3C, 1536, 1) on cat(x1, x2, x3) -> ReLU
// -> attention on cat(x, mean_t x, sqrt(clamp(var_t x (unbiased), 1e-4))) (4608 channels):
//    attention.0 Conv1d(4608, 256) -> ReLU -> attention.2 BN1d(256) -> Tanh -> attention.4 Conv1d(256, 1536)
//    -> softmax over time
// -> [mu; sqrt(clamp(sum w x^2 - mu^2, 1e-4))] (3072) -> bn5 -> fc6 Linear(3072, nOut = 192) -> bn6.
// Bottle2neck (width C/8): conv1 1x1 -> ReLU -> bn1; 7 branch convs (convs.i, bns.i; conv -> ReLU -> BN,
// hierarchical sum sp = sp + spx[i]), the 8th split passes through; conv3 1x1 -> ReLU -> bn3;
// SE: se.se.1 Conv1d(C, 128) -> ReLU -> se.se.3 Conv1d(128, C) -> sigmoid (no BN in the SE); + residual.
// All convs have biases; PyTorch default init. The front end (pre-emphasis, 80 mel 20-7600 Hz, log,
// mean subtraction, SpecAugment in training: spk_train --spec_aug, engine/audio/spec_augment.h) runs outside
// the model.
//
// ECAPA_TDNN_HardNeg (CJchanghwan/speaker_recognition_framework @ f61b9b6 model.py ECAPA_TDNN, built on TaoRuijie's):
// the same network with attention.0 Conv1d(4608, 64), attention.2 BN1d(64), attention.4 Conv1d(64, 1536);
// 14,264,320 params at C = 1024, 5,797,952 at C = 512 (1,180,224 fewer). Its checkpoints also hold attn.*
// (MultiheadAttention(192, 4)), itm_head.* (the ITM head of its "blip" loss) and pool.* (an MHASTP(1536) its
// forward never calls), 247,946 more parameters that play no part in the embedding: the importer skips them
// as extra entries. (Its training log's "Model para number" 13.84 counts them: 14,512,266 / 2^20.)
//
// Parameter counts (by hand; checked in tests/nets/test_ecapa_tdnn.cpp), n_mels 80, nOut 192:
//   C = 1024: conv1 410,624 + bn1 2,048; Bottle2neck 2,713,344 each (conv1 1,049,600, bn1 2,048,
//     convs 7·49,280, bns 7·256, conv3 1,049,600, bn3 2,048, se 131,200 + 132,096) x 3;
//     layer4 4,720,128; attention 1,179,904 + 512 + 394,752; bn5 6,144; fc6 590,016; bn6 384
//     -> 15,444,544 (= 14.73 Mi, the "Model para number" TaoRuijie's training prints).
//   C = 512: conv1 205,312 + bn1 1,024; Bottle2neck 746,432 each (conv1 262,656, bn1 1,024,
//     convs 7·12,352, bns 7·128, conv3 262,656, bn3 1,024, se 65,664 + 66,048) x 3; layer4 2,360,832;
//     attention 1,575,168; bn5 6,144; fc6 590,016; bn6 384 -> 6,978,176.
#pragma once
#include "nets/blocks.h"
#include "nets/model.h"

namespace spk {

class Bottle2neck : public Module {
 public:
  Bottle2neck(int64_t channels, int64_t kernel, int64_t dilation, int64_t scale, Rng& rng);
  Tensor forward(const Tensor& x);
  int64_t width, nums;
  std::shared_ptr<Conv1d> conv1, conv3, se_conv1, se_conv3;
  std::shared_ptr<BatchNorm1d> bn1, bn3;
  std::shared_ptr<ModuleList> convs, bns;
};

class EcapaTdnn : public SpeakerNet {
 public:
  // attention_channels: the attention bottleneck (attention.0's outputs): 256 in TaoRuijie's model.py, 64 in
  // the HardNeg seed's (CJchanghwan/speaker_recognition_framework model.py ECAPA_TDNN; "ECAPA_TDNN_HardNeg").
  EcapaTdnn(const ModelConfig& config, Rng& rng, int64_t attention_channels = 256,
            std::string name = "ECAPA_TDNN");
  Tensor forward(const Tensor& feats) override;
  std::string name() const override { return name_; }

  std::shared_ptr<Conv1d> conv1, layer4, att_conv0, att_conv4;
  std::shared_ptr<BatchNorm1d> bn1, att_bn2, bn5, bn6;
  std::shared_ptr<Bottle2neck> layer1, layer2, layer3;
  std::shared_ptr<Linear> fc6;

 private:
  std::string name_;
};

}  // namespace spk
