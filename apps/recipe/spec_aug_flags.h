// The recipe's SpecAugment (options.def, group "SpecAugment"; engine/audio/spec_augment.h): the flags as a
// SpecAugConfig, checked against the features the front end gives a training crop, and the train step's call.
//
// Defaults are TaoRuijie/ECAPA-TDNN's FbankAug (model.py: one time mask of width 0..9 frames, one frequency mask
// of width 0..7 bins, every utterance), which configs/ECAPA_TDNN_C1024_AAM.yaml turns on. wespeaker's spec_aug
// (wespeaker/dataset/dataset_utils.py; its recipes' spec_aug_args: num_t_mask 1, max_t 10, num_f_mask 1, max_f 8,
// prob 0.6) is --spec_aug_style wespeaker --spec_aug_prob 0.6 with the same counts and widths.
#pragma once
#include <optional>
#include <string>

#include "apps/recipe/config.h"
#include "apps/recipe/frontend.h"
#include "engine/audio/spec_augment.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace spk::recipe {

// nullopt without --spec_aug. With it: UsageError naming the flag for an unknown --spec_aug_style, a negative
// count, a width below 1 or wider than the features (--spec_aug_freq_width against the front end's rows,
// --spec_aug_time_width against the frames of a --max_frames crop), a --spec_aug_prob outside [0, 1], or a
// front end that gives no spectral features (--frontend waveform).
std::optional<SpecAugConfig> spec_aug_config(const RecipeConfig& c, const FrontEnd& fe);

// "taoruijie, 1 time mask(s) of width < 10, 1 freq mask(s) of width < 8, prob 1", for the run's log.
std::string spec_aug_str(const SpecAugConfig& s);

// The train step's masking of the front end's features (B, F, T), from the trainer's Rng (saved in checkpoints,
// so a resumed run draws the masks the uninterrupted one would have). UsageError naming --spec_aug when the
// features are not (B, F, T) with F > 1: a waveform front end's (B, 1, L) has no frequency axis to mask.
//
// --distributed: `share` says which part of the step's global batch these rows are (rank r of W holds groups
// [r·N, (r+1)·N) of each of the M crops per group; N the per-rank --batch_size). Every rank draws the masks of the
// whole global batch (W·N·M rows) from the shared stream and applies its rows' own, so the ranks mask differently,
// the stream advances alike on every rank, and a step masks exactly as one process with --batch_size W·N would
// (taoruijie's batch-wide widest mask included). A batch that lost groups (--skip_bad_files) takes the masks of its
// first rows' places: different per rank, but no longer the single process's (whose batch shrank too).
struct BatchShare {
  int64_t world = 1, rank = 0;
  int64_t groups = 0;   // N: groups per rank in a full batch
  int64_t crops = 1;    // M: crops per group
};
Tensor spec_aug_train_features(const Tensor& feats, const SpecAugConfig& s, Rng& rng, const BatchShare& share = {});

}  // namespace spk::recipe
