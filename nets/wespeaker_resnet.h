// wespeaker's ResNet family (wenet-e2e/wespeaker wespeaker/models/resnet.py: ResNet18 ... ResNet293 with
// m_channels 32, two_emb_layer=False), pooling TSTP, ASTP or MQMHASTP (pooling_layers.py). Named "ResNet18",
// "ResNet34", "ResNet50", "ResNet101", "ResNet152", "ResNet221", "ResNet293" in make_model; --encoder_type
// TSTP (default), ASTP or MQMHASTP (the three its recipe conf lists). wespeaker recipe:
// examples/voxceleb/v2/conf/resnet.yaml (ResNet34, TSTP).
//
// (B, n_mels = 80, T) -> (B, 1, n_mels, T) -> conv1 3x3 p1 (no bias) -> bn1 -> ReLU
// -> layer1..4, planes [32, 64, 128, 256], strides 1, 2, 2, 2 (first block of each stage), blocks:
//      ResNet18 [2, 2, 2, 2], ResNet34 [3, 4, 6, 3]                         BasicBlock (expansion 1)
//      ResNet50 [3, 4, 6, 3], ResNet101 [3, 4, 23, 3], ResNet152 [3, 8, 36, 3],
//      ResNet221 [6, 16, 48, 3], ResNet293 [10, 20, 64, 3]                  Bottleneck (expansion 4)
// -> flatten (B, 256·expansion·F'', T''), F'' = ceil(ceil(ceil(n_mels/2)/2)/2)
// -> pool: TSTP [mean_t; sqrt(var_t (unbiased) + 1e-7)] (no parameters), or MQMHASTP (nets/mqmhastp.h,
//    2 queries x 8 heads, channel-wise attention, bottleneck 64; parameters pool.n_query.q.heads_att_trans.h.*)
//    or ASTP (nets/mqmhastp.h, bottleneck 128; pool.linear1, pool.linear2)
// -> seg_1 Linear(pool out, nOut = 256) -> embedding (wespeaker's embed_a; with two_emb_layer=False
//    seg_bn_1 / seg_2 are identities and hold no parameters).
// wespeaker sizes the pooling with int(n_mels/8), which agrees with F'' for n_mels divisible by 8 and fails
// to run otherwise; we use F''. wespeaker's fbank is (B, T, 80) and its forward transposes it; ours takes
// (B, 80, T). Needs T >= 9 frames with TSTP (2 after the strides, for the unbiased variance), 1 with MQMHASTP.
// No re-initialisation: wespeaker's ResNet keeps PyTorch's default Conv/Linear init.
//
// "ResNet18_HardNeg", "ResNet34_HardNeg": the HardNeg seed's copy (CJchanghwan/speaker_recognition_framework
// @ f61b9b6 model.py ResNet, as its ECAPAModel builds ResNet18/34(80, 256, pooling_func='MQMHASTP')), which ignores
// pooling_func: pool = its MHASTP(2560) (8 heads of 320 channels, pool.heads_att_trans.h.att_0 Conv1d(320, 64)
// -> tanh -> att_1 Conv1d(64, 1): one weight per frame and head), seg_1 Linear(5120, 256), and two_emb_layer=True:
// embedding = seg_2(seg_bn_1(relu(seg_1(stats)))), seg_bn_1 BatchNorm1d(nOut, affine=False), seg_2 Linear(nOut,
// nOut). --encoder_type MHASTP (the default). 2560 is hard-coded there (80 mel); here it is the flattened map's
// size. The seed feeds TaoRuijie's front end; its attn.* / itm_head.* (ITM loss head) are not part of the net.
// Params 4,336,104 (ResNet18_HardNeg) and 6,865,000 (ResNet34_HardNeg), n_mels 80, nOut 256.
//
// Params (n_mels 80, nOut 256; wespeaker's own classes count the same, scripts/golden_models/wespeaker_resnet.py):
//             TSTP        MQMHASTP
//   ResNet18   4,105,440   6,077,664      ResNet34   6,634,336 (the "6.63 M")   8,606,560
//   ResNet50  11,131,360  19,017,184      ResNet101 15,892,448  23,778,272      ResNet152 19,814,880  27,700,704
//   ResNet221 23,792,224  31,678,048      ResNet293 28,626,016  36,511,840   (the "23.79 M", "28.62 M")
#pragma once
#include <array>
#include <string>
#include <vector>

#include "nets/blocks.h"
#include "nets/model.h"
#include "nets/mqmhastp.h"

namespace spk {

// wespeaker Bottleneck (expansion 4): conv1 1x1 -> bn1 -> ReLU -> conv2 3x3 (stride) -> bn2 -> ReLU
// -> conv3 1x1 (4 planes) -> bn3, + shortcut (shortcut.0 1x1 conv (stride) + shortcut.1 BN when stride != 1 or
// in != 4 planes) -> ReLU. No conv biases.
class Bottleneck : public Module {
 public:
  Bottleneck(int64_t in, int64_t planes, int64_t stride, Rng& rng);
  Tensor forward(const Tensor& x);
  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<Slots> shortcut;
};

struct WespeakerResNetDepth {
  const char* name;
  bool bottleneck;
  std::array<int64_t, 4> blocks;
};
// ResNet18 ... ResNet293 in that order.
const std::vector<WespeakerResNetDepth>& wespeaker_resnet_depths();

class WespeakerResNet : public SpeakerNet {
 public:
  // name: one of wespeaker_resnet_depths(), config.encoder_type TSTP (or empty), ASTP or MQMHASTP; or
  // ResNet18_HardNeg, ResNet34_HardNeg with MHASTP (or empty).
  WespeakerResNet(const std::string& name, const ModelConfig& config, Rng& rng);
  Tensor forward(const Tensor& feats) override;
  std::string name() const override { return name_; }

  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<BatchNorm2d> bn1;
  std::array<std::shared_ptr<ModuleList>, 4> layers;   // layer1 .. layer4
  std::shared_ptr<MQMHASTP> pool;                      // null with TSTP
  std::shared_ptr<ASTP> astp_pool;                     // "pool" with ASTP, else null
  std::shared_ptr<MHASTP> hardneg_pool;                // "pool" of the *_HardNeg nets, else null
  std::shared_ptr<Linear> seg_1, seg_2;                // seg_2: *_HardNeg only
  std::shared_ptr<BatchNorm1d> seg_bn_1;               // *_HardNeg only

 private:
  std::string name_;
  bool bottleneck_ = false;
};

}  // namespace spk
