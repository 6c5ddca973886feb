// infonce and aam_infonce: the contrastive losses of CJchanghwan/speaker_recognition_framework ("HardNeg",
// loss.py ClipLoss / margin_ClipLoss / LossFunction). x (N, 2, D) holds the two utterances of each speaker.
//   X̂ = normalize(x[:, 0]), Ŷ = normalize(x[:, 1]), P = τ·X̂Ŷᵀ, Q = τ·ŶX̂ᵀ = Pᵀ, with τ = logit_scale, a learnable
//   scalar initialised to ln(1/T) with T = infonce_temperature (0.07: τ ≈ 2.659) and used as is — no exp, no
//   clamp (HardNeg loss.py ClipLoss), so the effective starting temperature is 1/τ ≈ 0.376, not T;
//   infonce:     L_c = ½[CE(P, i) + CE(Q, i)]   (the symmetric CLIP loss);
//   aam_infonce: L_c = ½[AAM(P) + AAM(Q)], AAM(Z) = CE(aam(normalize rows of Z), i) with the voxceleb_trainer
//                angular margin at m 0.2, s 10 — the rows of τ·cos are rescaled to unit norm, not cosines.
// With the AAM-softmax mix (config.infonce_aam_mix: true, false, or auto = off for infonce, on for aam_infonce) the
// loss is HardNeg's LossFunction: w·L_c + (1 − w)·AAMsoftmax(x[:, 0], labels) with w = infonce_mix_weight 0.2
// (m infonce_cls_margin 0.2, s infonce_cls_scale 30, its own weight), and the
// metric is that classifier's top-1; without it the metric is the top-1 of P (diagonal targets).
// HardNeg's 'blip' mode (the ITM head on mined hard negatives) is not implemented.
// Parameters: logit_scale (); with the mix also aam.weight (nClasses, nOut). HardNeg's checkpoints also
// carry an unused sub.weight (sub-center ArcFace), which has no counterpart here. M = 2; test_normalize true.
#pragma once
#include "losses/aamsoftmax.h"
#include "losses/loss.h"

namespace spk {

class InfoNCELoss : public Loss {
 public:
  // row_margin: aam_infonce (margin on the logit rows) rather than infonce.
  InfoNCELoss(const LossConfig& config, Rng& rng, bool row_margin);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  Tensor logit_scale;                   // ()
  std::shared_ptr<AAMSoftmaxLoss> aam;  // null without the mix

 private:
  bool row_margin_;
  double mix_weight_, row_m_, row_s_;
};

}  // namespace spk
