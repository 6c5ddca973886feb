// VGGVox (VGG-M-40, Chung et al. 2020), voxceleb_trainer models/VGGVox.py.
//
// (B, 40, T) -> (B, 1, 40, T) -> netcnn (an nn.Sequential; parameter-free entries keep their indices):
//   0 Conv2d(1, 96, (5,7), s(1,2), p(2,2)) 1 BN 2 ReLU 3 MaxPool((1,3), s(1,2))
//   4 Conv2d(96, 256, 5, s2, p1)           5 BN 6 ReLU 7 MaxPool(3, s2)
//   8 Conv2d(256, 384, 3, p1) 9 BN 10 ReLU     11 Conv2d(384, 256, 3, p1) 12 BN 13 ReLU
//   14 Conv2d(256, 256, 3, p1) 15 BN 16 ReLU 17 MaxPool(3, s2)
//   18 Conv2d(256, 512, (4,1)) 19 BN 20 ReLU  -> (B, 512, 1, T')
// -> MAX (max over T') | TAP (mean over T') | SAP (sap_linear 512x512, attention (512, 1)) -> fc -> nOut.
// Frequency 40 -> 40 -> 40 -> 19 -> 9 -> 9 -> 4 -> 1, so n_mels must be 40. Time for T = 202: 100 -> 49
// -> 24 -> 11 -> 11 -> 5; the net needs T >= 63 frames (T' >= 1).
// No custom init (PyTorch defaults; attention xavier_normal). Params (nOut 512): SAP 4,032,448,
// TAP/MAX 3,769,280.
#pragma once
#include "nets/blocks.h"
#include "nets/model.h"

namespace spk {

class VGGVox : public SpeakerNet {
 public:
  VGGVox(const ModelConfig& config, Rng& rng);
  Tensor forward(const Tensor& feats) override;
  std::string name() const override { return "VGGVox"; }

  Tensor attention;                       // (512, 1), SAP only
  std::shared_ptr<Slots> netcnn;
  std::vector<std::shared_ptr<Conv2d>> convs;     // netcnn.0, 4, 8, 11, 14, 18
  std::vector<std::shared_ptr<BatchNorm2d>> bns;  // netcnn.1, 5, 9, 12, 15, 19
  std::shared_ptr<Linear> sap_linear, fc;
  std::string encoder;
};

}  // namespace spk
