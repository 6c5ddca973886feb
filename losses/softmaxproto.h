// softmaxproto: softmax over all 2N embeddings plus the angular prototypical loss (voxceleb_trainer
// loss/softmaxproto.py; the loss of the published baseline_v2 models).
//   L = CE(fc(x reshaped (2N, D)), labels repeat_interleave 2) + L_angleproto(x);  metric: the softmax top-1.
// Parameters, named as the reference's sub-modules: softmax.fc.weight, softmax.fc.bias, angleproto.w,
// angleproto.b. M = 2; test_normalize true.
#pragma once
#include "losses/angleproto.h"
#include "losses/softmax.h"

namespace spk {

class SoftmaxProtoLoss : public Loss {
 public:
  SoftmaxProtoLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  std::shared_ptr<SoftmaxLoss> softmax;
  std::shared_ptr<AngleProtoLoss> angleproto;
};

}  // namespace spk
