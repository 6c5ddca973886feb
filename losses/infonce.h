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
// config.hardneg_mode selects HardNeg's --mode: clip and blip turn infonce_aam_mix auto on (its LossFunction always
// mixes); blip adds the ITM head on the hardest in-batch negatives (losses/blip_itm.h) and returns
// (w·L_itm + (1 − w)·L_clip) / 2, w = blip_itm_weight, as ECAPAModel.py train_blip does.
// Batches with a repeated speaker keep the first pair of each speaker, as HardNeg's collate does (the diagonal
// targets need distinct speakers), and say so in the step's warning.
// Parameters: logit_scale (); with the mix also aam.weight (nClasses, nOut); in blip mode also attn.* and
// itm_head.* (the seed's names). HardNeg's checkpoints also carry an unused sub.weight (sub-center ArcFace), which
// has no counterpart here. M = 2; test_normalize true.
#pragma once
#include "losses/aamsoftmax.h"
#include "losses/blip_itm.h"
#include "losses/loss.h"

namespace spk {

class InfoNCELoss : public Loss {
 public:
  // row_margin: aam_infonce (margin on the logit rows) rather than infonce.
  InfoNCELoss(const LossConfig& config, Rng& rng, bool row_margin);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  Tensor logit_scale;                   // ()
  std::shared_ptr<AAMSoftmaxLoss> aam;  // null without the mix
  std::shared_ptr<ItmHead> itm;         // blip mode only; its attn and itm_head are this loss's children

 private:
  // L_clip (and the metric) of one batch of distinct speakers, g (N, 2, D).
  LossOutput clip(const Tensor& g, const Tensor& labels);

  bool row_margin_;
  double mix_weight_, row_m_, row_s_, itm_weight_;
};

}  // namespace spk
