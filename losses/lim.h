// lim / gim: Local and Global Info Max as theolepage/ssl-for-slr trains them (sslforslr/models/lim/LIM.py,
// LIMModelConfig.py; GIM is LIM with context_length > 1, commit 2d0546f, its multi-v1 config 32; Ravanelli &
// Bengio, "Learning speaker representations with mutual information", Interspeech 2019). Reads frames:
// x (N, M, T, D) = the model's frame encoding Z of M views of N distinct utterances (SpeakerNet::frames).
// Per view, with C = context length (lim_context_length; 0 takes the method's: lim 1, gim 32):
//   C1, C2 = the mean of Z over C frames from two random starts p1, p2 of the same utterance (N, D)
//   CR     = the chunk at a third start p3, rolled across the batch by a random shift s in [1, N−1]
//            (tf.roll: CR[i] = C3[(i − s) mod N], another utterance's chunk)
//   pos = Disc([C1; C2]), neg = Disc([C1; CR]) (N), Disc = Dense(lim_hidden, relu) → Dense(1)
//   lim_loss bce:  L = −[mean log σ(pos) + mean log(1 − σ(neg))], σ clipped to [1e-7, 1 − 1e-7] (Keras BCE)
//            mine: L = −[mean(pos) − log mean exp(neg)]
//            nce:  L = −mean_i [pos_i − log(exp(pos_i) + Σ_j exp(neg_j))]
// (the log-sum-exps are taken around their maximum: the same values, without overflow). The starts (one per
// chunk, shared by the batch as the seed's scalar draws) and the shift are drawn per view from the loss's Rng
// (the trainer's, which checkpoints save). The loss is the mean over the M views; metric: % of pos > 0 and
// neg < 0. The discriminator ("disc.0", "disc.1", PyTorch-initialised Linears) is the loss's, saved as "__L__.*",
// never part of the embedding. Not carried over: the seed's L2 regulariser 1e-4 (use --weight_decay).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/layers.h"
#include "losses/loss.h"

namespace spk {

// The objective on discriminator scores pos, neg (N): kind "bce", "mine" or "nce" as above.
Tensor lim_objective(const Tensor& pos, const Tensor& neg, const std::string& kind);

// One view's random draw: the three chunk starts and the roll.
struct LimDraw {
  int64_t p1 = 0, p2 = 0, p3 = 0, shift = 1;
};

class LIMLoss : public Loss {
 public:
  // name: "lim" or "gim" (the default context length).
  LIMLoss(const std::string& name, const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  // The loss for given draws (one per view), for tests; forward() draws them and calls this.
  LossOutput forward_with(const Tensor& x, const std::vector<LimDraw>& draws);
  // The discriminator's score of pairs a, b (N, D) -> (N).
  Tensor score(const Tensor& a, const Tensor& b) const;
  int64_t context_length() const { return context_; }

  std::shared_ptr<Linear> hidden, out;   // disc.0: Linear(2D, lim_hidden), disc.1: Linear(lim_hidden, 1)

 private:
  Tensor check_frames(const Tensor& x) const;
  std::string objective_;
  int64_t context_, dim_;
  std::shared_ptr<Rng> rng_;
};

}  // namespace spk
