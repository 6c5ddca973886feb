// SpecAugment on a batch of features (Park et al., arXiv 1904.08779): time and frequency masks, filled with 0,
// drawn on the host from a seeded Rng and applied by kernels/specaug on the features' device, so a CPU and a CUDA
// run of the same seed mask the same elements. Training only: the recipes apply it after the front end in the
// train step, never in evaluation (apps/recipe/trainer.cpp; docs/frontend.md, "SpecAugment").
//
//   SpecAugConfig cfg;                               // TaoRuijie's FbankAug: 1 time mask < 10 frames, 1 freq < 8 bins
//   Tensor y = spk::spec_augment(feats, cfg, rng);   // feats (B, F, T) f32 (f64 on cpu) -> a new (B, F, T)
//
// Two conventions, each read from its reference's code:
//   taoruijie  TaoRuijie/ECAPA-TDNN model.py FbankAug.mask_along_axis: per utterance, for each mask a width
//              w ~ U{0 .. width-1} and a start ~ U{0 .. max(1, D - w_max) - 1}, w_max the largest width drawn for
//              that mask over the batch (the reference draws all widths of a batch first); time masks, then freq.
//              FbankAug's defaults: 1 time mask, width 10; 1 freq mask, width 8; every utterance (prob 1).
//   wespeaker  wespeaker/dataset/dataset_utils.py spec_aug: once per batch, with probability prob, the same masks
//              for every utterance: for each mask a start ~ U{0 .. D-1}, a width w ~ U{1 .. width}, masking
//              [start, min(D, start + w)); time masks, then freq. Its defaults (and its recipes' spec_aug_args):
//              num_t_mask 1, max_t 10, num_f_mask 1, max_f 8, prob 0.6 (the recipes ship spec_aug: False).
//   prob: taoruijie style, each utterance is masked with probability prob (FbankAug: 1); wespeaker style, the batch.
// D is the axis' size (T frames or F bins). Draws are counter-based (engine/rng.h): the masks of a step are a
// pure function of the Rng state, which the trainer saves in its checkpoints.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace spk {

enum class SpecAugStyle { taoruijie, wespeaker };

struct SpecAugConfig {
  SpecAugStyle style = SpecAugStyle::taoruijie;
  int64_t time_masks = 1;    // masks along time per utterance (per batch, wespeaker style)
  int64_t time_width = 10;   // taoruijie: widths 0 .. time_width-1 frames; wespeaker: 1 .. time_width
  int64_t freq_masks = 1;
  int64_t freq_width = 8;    // as time_width, in bins
  double prob = 1.0;         // chance an utterance (taoruijie) or the batch (wespeaker) is masked
};

// "taoruijie" or "wespeaker" -> the style; spk::Error naming the valid names otherwise.
SpecAugStyle spec_aug_style(const std::string& name);
const char* spec_aug_style_name(SpecAugStyle s);

// "" when cfg can mask features of F bins and T frames, else what is wrong, naming the field (time_masks,
// time_width, freq_masks, freq_width, prob): counts >= 0, widths >= 1 and at most the axis' size, prob in [0, 1].
std::string spec_aug_config_error(const SpecAugConfig& cfg, int64_t F, int64_t T);

// Drawn masks: intervals (B, n_time + n_freq, 2) int32 [start, end), the layout of kernels/specaug/specaug.h; an
// utterance left unmasked has [0, 0) pairs.
struct SpecAugMasks {
  int64_t B = 0, n_time = 0, n_freq = 0;
  std::vector<int32_t> intervals;
};

// Draws the masks of one batch from rng (advancing it). Throws spk::Error with spec_aug_config_error's message.
SpecAugMasks spec_aug_draw(const SpecAugConfig& cfg, int64_t B, int64_t F, int64_t T, Rng& rng);

// feats (B, F, T) with the masks zeroed, as a new tensor on feats' device (f32; f64 on the cpu only). Forward only:
// throws if feats requires grad while grad mode is on, as fbank does.
Tensor spec_aug_apply(const Tensor& feats, const SpecAugMasks& masks);

// spec_aug_draw on feats' shape, then spec_aug_apply.
Tensor spec_augment(const Tensor& feats, const SpecAugConfig& cfg, Rng& rng);

}  // namespace spk
