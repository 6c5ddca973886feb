// HardNeg's 'blip' mode (CJchanghwan/speaker_recognition_framework @ f61b9b68, ECAPAModel.py train_blip and
// model.py ECAPA_TDNN.itm): an image-text-matching (ITM) head, borrowed from BLIP, that learns to tell a speaker's
// pair of utterances from the hardest in-batch impostor pairs.
//
// With X̂, Ŷ (B, D) the L2-normalised embeddings of the two utterances of each speaker and τ the InfoNCE logit scale
// (used linearly, as the contrastive term uses it):
//   1. S = τ·X̂Ŷᵀ (i2t) and Sᵀ (t2i); W = softmax(rows) + 1e-4 with the diagonal set to 0 (no gradient);
//   2. the hardest negative of row b is argmax_j W[b, j] (deterministic; BLIP itself samples from W); for both
//      directions the seed appends the *second-view* embedding Ŷ[j] (its t2i loop reads txt_emb too, where BLIP
//      takes the image side; spk follows the seed, so a published checkpoint's head sees what it was trained on);
//   3. pairs: image_all = [X̂; X̂; X̂] (3B, D), text_all = [Ŷ; Ŷ[neg_i2t]; Ŷ[neg_t2i]] (3B, D);
//   4. itm(x, y) = itm_head(ReLU(x + attn(query = y, key = x, value = x))), attn = MultiheadAttention(D, heads) over
//      the 3B rows as ONE unbatched sequence (nn.MultiheadAttention on 2-D inputs), itm_head = Linear(D, 2);
//   5. L_itm = CE(itm(image_all, text_all), [1]×B ++ [0]×2B).
// The recipe's total is (w·L_itm + (1 − w)·L_clip) / 2 with w = blip_itm_weight (HardNeg: 0.2), L_clip the clip
// mode's 0.2·InfoNCE + 0.8·AAM-softmax (losses/infonce.h). Gradients reach X̂ and Ŷ through every pair, including
// the selected negatives; the selection itself is constant.
// Parameters, under the seed's module names: attn.in_proj_weight (3D, D), attn.in_proj_bias (3D),
// attn.out_proj.weight (D, D), attn.out_proj.bias (D), itm_head.weight (2, D), itm_head.bias (2).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/layers.h"
#include "engine/module.h"

namespace spk {

// The hardest negative of each row of sim (B, B), any float dtype and device: argmax_j (softmax(sim[b])[j] + 1e-4)
// over j ≠ b, the first index on ties (torch.max); for B = 1 the only index, 0. Read to the host (no gradient).
std::vector<int64_t> hardest_negatives(const Tensor& sim);

class ItmHead : public Module {
 public:
  ItmHead(int64_t dim, int64_t heads, Rng& rng, DType dtype = DType::f32);
  // x, y (R, D) -> logits (R, 2): itm_head(ReLU(x + attn(y, x, x))).
  Tensor forward(const Tensor& x, const Tensor& y) const;
  // L_itm of step 1-5 above for X̂, Ŷ (B, D), B >= 2, and the scale τ (a () tensor; its value only is used).
  Tensor loss(const Tensor& xh, const Tensor& yh, const Tensor& tau) const;

  std::shared_ptr<MultiheadAttention> attn;
  std::shared_ptr<Linear> itm_head;
};

}  // namespace spk
