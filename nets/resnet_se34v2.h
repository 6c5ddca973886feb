// ResNetSE34V2 ("H/ASP", Kwon et al. 2021), voxceleb_trainer models/ResNetSE34V2.py.
//
// (B, n_mels, T) -> (B, 1, n_mels, T) -> conv1 3x3 p1 (with bias) -> ReLU -> bn1 (ReLU before BN)
// -> layer1..4 SEBasicBlock [3, 4, 6, 3], channels [32, 64, 128, 256], strides 1, (2,2), (2,2), (2,2)
// -> fold frequency into channels (B, 256·n_mels/8, T'') -> channel-wise attention
//    attention.0 Conv1d(D, 128, 1) -> ReLU -> attention.2 BN1d(128) -> attention.3 Conv1d(128, D, 1)
//    -> softmax over time -> SAP: sum_t w x (D) | ASP: [mu; sqrt(clamp(sum w x^2 - mu^2, 1e-5))] (2D)
// -> fc -> (B, nOut). n_mels must be a multiple of 8 (the reference uses int(n_mels/8)).
// Trace, n_mels 64, T 202: (32,64,202) (64,32,101) (128,16,51) (256,8,26) -> (2048,26).
// Params (ASP, n_mels 64, nOut 512): 8,028,492.
#pragma once
#include "nets/blocks.h"
#include "nets/model.h"

namespace spk {

class ResNetSE34V2 : public SpeakerNet {
 public:
  ResNetSE34V2(const ModelConfig& config, Rng& rng);
  Tensor forward(const Tensor& feats) override;
  std::string name() const override { return "ResNetSE34V2"; }

  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<BatchNorm2d> bn1;
  std::shared_ptr<Stage<SEBasicBlock>> layer1, layer2, layer3, layer4;
  std::shared_ptr<Conv1d> att_conv0, att_conv3;
  std::shared_ptr<BatchNorm1d> att_bn2;
  std::shared_ptr<Linear> fc;
  bool asp;
};

// voxceleb_trainer's _make_layer for SEBasicBlock stages (resnet_se34l.cpp); in is updated to out.
std::shared_ptr<Stage<SEBasicBlock>> make_se_stage(int64_t& in, int64_t out, int64_t blocks,
                                                   std::pair<int64_t, int64_t> stride, Rng& rng);

}  // namespace spk
