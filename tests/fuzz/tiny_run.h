// A training run small enough to fuzz its checkpoints: a 4 -> 3 linear net with a BatchNorm, the softmax loss
// over 2 speakers and Adam. The checkpoint_resume target restores into it and the seed generator saves it.
#pragma once
#include <memory>

#include "apps/recipe/checkpoint.h"
#include "engine/layers.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "losses/loss.h"
#include "nets/model.h"

namespace spk::fuzz {

class TinyNet : public SpeakerNet {
 public:
  TinyNet() : SpeakerNet(4, 3) {
    Rng rng(3);
    fc = register_module("fc", std::make_shared<Linear>(4, 3, rng));
    bn = register_module("bn", std::make_shared<BatchNorm1d>(3));
  }
  Tensor forward(const Tensor& feats) override { return bn->forward(fc->forward(mean(feats, {2}))); }
  std::string name() const override { return "Tiny"; }
  std::shared_ptr<Linear> fc;
  std::shared_ptr<BatchNorm1d> bn;
};

struct TinyRun {
  std::shared_ptr<TinyNet> net = std::make_shared<TinyNet>();
  std::shared_ptr<Loss> loss = make_loss("softmax", LossConfig{.nOut = 3, .nClasses = 2});
  std::unique_ptr<Adam> optim = std::make_unique<Adam>(recipe::training_parameters(*net, *loss), 1e-3);
};

}  // namespace spk::fuzz
