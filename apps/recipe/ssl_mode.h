// spk_train --ssl: self-supervised training without speaker labels (docs/ssl.md).
//
// The mode changes only where the batches come from: the training list is read without labels
// (engine/audio/unlabelled_list.h) and the view sampler (engine/audio/view_sampler.h) gives batches of
// --batch_size distinct utterances × 2 crops at different offsets, shaped as a supervised nPerSpeaker = 2 batch with
// positional labels. Model, losses, optimiser, checkpoints and resume are the supervised trainer's.
//
// Checks before any work, each a UsageError naming the flag: a loss that needs class labels (softmax, aamsoftmax,
// softmaxproto, ...) as --trainfunc or --trainfunc2; --nPerSpeaker other than 2 (its default 1 is taken as 2);
// --sampler pyannote; --ssl_split without --ssl; and, with the list, fewer than two files with two distinct (with
// --ssl_split: non-overlapping) crops, or fewer such files than --batch_size.
#pragma once
#include <memory>
#include <string>

#include "apps/recipe/config.h"
#include "engine/audio/lists.h"
#include "engine/tensor.h"

namespace spk {
class SpeakerNet;
}
namespace spk::audio {
class ViewSampler;
class ViewAugment;
}

namespace spk::recipe {

// The flag checks of --ssl (validate_train_config calls it when c.ssl or c.ssl_split; --ssl_split alone is an error).
void validate_ssl_config(const RecipeConfig& c);

// nPerSpeaker as the mode runs it: 2 (checked by validate_ssl_config).
constexpr int64_t kSslViews = 2;

struct SslTrainData {
  audio::TrainList list;                            // paths; labels[i] = i; no speakers
  std::shared_ptr<const audio::ViewSampler> views;  // built from every file's length (header reads)
  std::string report;                               // the start-up line: files used, left out and why
};

// --train_list read without labels (paths joined to --train_path); fewer than two distinct files is a UsageError.
audio::TrainList read_ssl_train_list(const RecipeConfig& c);
// Every file's length from its header, then the view sampler; the trainer logs `report` at start-up.
// --distributed: rank `rank` of `world_size` takes its slice of every global batch of --batch_size · world_size.
SslTrainData plan_ssl_views(audio::TrainList list, const RecipeConfig& c, int64_t world_size = 1, int64_t rank = 0);
// The model's embeddings of a view batch's features (M·N rows, view-major) as (M·N, D): one forward when M = 2;
// with local crops (DINO), the 2 global views in one forward and the local ones, cut to their first
// --ssl_local_frames frames, in a second (BatchNorm sees each crop length on its own, as wespeaker's two calls).
Tensor embed_views(SpeakerNet& model, const Tensor& feats, int64_t m, int64_t n, int64_t local_frames);
// --ssl_aug's per-view augmentation, or null when it is off or MUSAN/RIR (--augment) or --add_noise is given.
std::shared_ptr<const audio::ViewAugment> make_view_augment(const RecipeConfig& c);

}  // namespace spk::recipe
