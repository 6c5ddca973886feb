// wespeaker ResNet34-TSTP (wespeaker/models/resnet.py, ResNet34(feat_dim, embed_dim, pooling_func='TSTP',
// two_emb_layer=False)); recipe wespeaker examples/voxceleb/v2/conf/resnet.yaml. Named "ResNet34" in make_model.
//
// (B, n_mels = 80, T) -> (B, 1, n_mels, T) -> conv1 3x3 p1 (no bias) -> bn1 -> ReLU
// -> layer1..4 BasicBlock [3, 4, 6, 3], channels [32, 64, 128, 256], strides 1, 2, 2, 2 (no SE)
// -> flatten (B, 256·ceil(n_mels/8), T'') -> TSTP [mean_t; sqrt(var_t (unbiased) + 1e-7)]
// -> seg_1 Linear(2·256·F'', nOut = 256) -> embedding (wespeaker's embed_a; with two_emb_layer=False
// seg_bn_1 / seg_2 are identities and hold no parameters). Needs T >= 9 frames (2 after the strides).
// wespeaker's fbank is (B, T, 80) and its forward transposes it; ours takes (B, 80, T) directly.
// Params (n_mels 80, nOut 256): 6,634,336 (body 5,323,360 + seg_1 1,310,976), the "6.63 M" of wespeaker.
#pragma once
#include "nets/blocks.h"
#include "nets/model.h"

namespace spk {

class ResNet34 : public SpeakerNet {
 public:
  ResNet34(const ModelConfig& config, Rng& rng);
  Tensor forward(const Tensor& feats) override;
  std::string name() const override { return "ResNet34"; }

  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<BatchNorm2d> bn1;
  std::shared_ptr<Stage<BasicBlock>> layer1, layer2, layer3, layer4;
  std::shared_ptr<Linear> seg_1;
};

}  // namespace spk
