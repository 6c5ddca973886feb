// cpc: Contrastive Predictive Coding as theolepage/ssl-for-slr trains it (sslforslr/models/cpc/CPC.py,
// CPCModelConfig.py; van den Oord et al. 2018, arXiv:1807.03748). It reads frames, not embeddings:
// x (N, M, T, D) = the model's frame encoding Z of M views of N distinct utterances (SpeakerNet::frames).
// Per view, with K = cpc_steps and the batch's N utterances:
//   c      = GRU(cpc_context_dim) over Z[:, 0 : T−K], its last state (N, H)        (ssl-for-slr: GRU(256), 1 layer)
//   p_k    = W_k c + b_k (N, D), k = 1..K: K Dense predictors                    (nb_timesteps_to_predict = 12)
//   dot^k  = Z[:, T−K+k−1] p_kᵀ (N, N): row i is utterance i's true future against every utterance's prediction
//   L_view = (1/K) Σ_k (1/N) Σ_i −log softmax_j(dot^k_{i·})[i]
// The negatives are the other utterances of the batch (the seed's; no negatives from other time steps). The loss
// is the mean of L_view over the M views, each view scored on its own so a negative is never the same utterance's
// other crop. Metric: top-1 of the rows over every view and step, in %.
// Children "gru" (weight_ih_l0, ..., torch.nn.GRU's names) and "predictors.<k>" (Linear(H, D)), PyTorch init;
// they are the loss's, saved as "__L__.*" and never part of the embedding (the model's pooled frames).
// Not carried over: the seed's optional bidirectional copy (off by default) and its L2 regulariser 1e-4 on these
// layers (use --weight_decay).
#pragma once
#include <memory>
#include <vector>

#include "engine/layers.h"
#include "losses/loss.h"

namespace spk {

// The InfoNCE over future steps, on its own for tests: future (K, N, D) true frames, pred (K, N, D) predictions
// -> the scalar (1/K) Σ_k CE(future_k pred_kᵀ, arange(N)); *correct counts rows whose arg-max is their own.
Tensor cpc_future_infonce(const Tensor& future, const Tensor& pred, int64_t* correct = nullptr);

class CPCLoss : public Loss {
 public:
  CPCLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  int64_t steps() const { return steps_; }

  std::shared_ptr<GRU> gru;
  std::vector<std::shared_ptr<Linear>> predictors;   // K of them

 private:
  int64_t steps_, dim_;
};

}  // namespace spk
