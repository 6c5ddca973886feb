// cel: the contrastive equilibrium learning objective (CEL SpeakerNet.py), L = λ_s·L_sim + λ_u·L_unif.
//   L_sim = anglecontrast (default), angleproto or proto (config.sim_loss); L_unif = uniformity (t, sampling
//   from the config). As CEL's __train_normalize__, the embeddings are L2-normalised once before both terms when
//   L_sim is angular, and left as they are for proto (then the uniformity sees raw embeddings too).
//   metric: L_sim's top-1.
// Children: "sim" (w, b for the angular ones: CEL's __L__.w / __L__.b) and "unif" (no parameters; __U__).
// M = 2; test_normalize follows L_sim (false for proto), as CEL's __test_normalize__.
#pragma once
#include "losses/loss.h"
#include "losses/uniformity.h"

namespace spk {

class CELLoss : public Loss {
 public:
  CELLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  std::shared_ptr<Loss> sim;
  std::shared_ptr<UniformityLoss> unif;

 private:
  double lambda_s_, lambda_u_;
  bool normalize_;
};

}  // namespace spk
