// ResNetSE34L ("Fast ResNet-34", Chung et al. 2020), voxceleb_trainer models/ResNetSE34L.py;
// Chung et al., "In defence of metric learning for speaker recognition", Interspeech 2020 (arXiv 2003.11982).
// Also ResNetSE34Half (voxceleb_trainer models/ResNetSE34Half.py, deleted in commit 9ae2041) via num_filters {32, 64, 128, 256}.
//
// (B, n_mels, T) -> unsqueeze (B, 1, n_mels, T) -> conv1 7x7 s(2,1) p3 (no bias) -> bn1 -> ReLU
// -> layer1..4 SEBasicBlock [3, 4, 6, 3], channels [16, 32, 64, 128], first strides 1, (2,2), (2,2), 1
// -> mean over frequency (B, 128, T') -> SAP (128) | ASP (256) -> fc -> (B, nOut).
// Trace for n_mels 40, T 202: (16,20,202) (16,20,202) (32,10,101) (64,5,51) (128,5,51).
// Names: conv1.weight, bn1.*, layer1.0.conv1.weight, layer1.0.se.fc.0.weight, layer2.0.downsample.0.weight,
// attention (128, 1), sap_linear.weight, fc.weight. Params (nOut 512, SAP, any n_mels): 1,437,078.
#pragma once
#include <array>

#include "nets/blocks.h"
#include "nets/model.h"

namespace spk {

class ResNetSE34L : public SpeakerNet {
 public:
  ResNetSE34L(const ModelConfig& config, Rng& rng, std::array<int64_t, 4> num_filters = {16, 32, 64, 128});
  Tensor forward(const Tensor& feats) override;
  std::string name() const override { return "ResNetSE34L"; }

  Tensor attention;                                   // (C4, 1), xavier_normal
  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<BatchNorm2d> bn1;
  std::shared_ptr<Stage<SEBasicBlock>> layer1, layer2, layer3, layer4;
  std::shared_ptr<Linear> sap_linear, fc;
  bool asp;
};

}  // namespace spk
