// The self-supervised view sampler (spk_train --ssl, docs/ssl.md): per utterance, two random crops ("views") of
// max_audio = max_frames·160 + 240 samples at different offsets, in batches of distinct utterances. The batch has
// the layout of a supervised nPerSpeaker = 2 batch (loader.h: N items of M = 2 crops), so the pair losses
// (angleproto, anglecontrast, ssl_infonce, uniformity, cel) read it unchanged, with positional labels.
//
// Crop positions follow voxceleb_trainer's loadWAV: len' = max(len, max_audio + 1) (wrap padding), starts in
// [0, len' - max_audio), i.e. P = len' - max_audio positions. Two distinct crops need P >= 2, that is
// len >= max_audio + 2 samples: a shorter file (every padded file among them) has a single crop, and is left out
// of every epoch, counted in short_files() (the trainer reports it at start-up) rather than seen twice as one
// crop. An unreadable file (length -1, --skip_bad_files) is left out and counted in unreadable_files().
//
// With `split` (CEL's loadWAVSplit, --ssl_split) the two views never overlap: with R = len - 2·max_audio, draw two
// distinct a < b from [0, R) (random.sample), take starts a and b + max_audio (so the views are at least one sample
// apart), then put them in random order (CEL shuffles them). That needs R >= 2, i.e. len >= 2·max_audio + 2;
// shorter files are left out and counted in short_files() (CEL would stop on them).
//
// Per epoch, from Rng(seed + epoch) (as the speaker sampler, sampler.h), single-threaded:
//   1. permute the usable utterances;
//   2. per utterance in that order: start0 = randint(0, P), start1 = randint(0, P - 1), start1 += start1 >= start0
//      (uniform over the ordered pairs of distinct starts); with `split`: a = randint(0, R), b = randint(0, R - 1),
//      b += b >= a, (a, b) sorted, starts (a, b + max_audio), swapped when randint(0, 2) is 1;
//      then, with local_views, one start = randint(0, P) per local view (only then, so two-view plans are unchanged);
//   3. cut into batches of batch_size; truncate to a multiple of batch_size · world_size; rank r takes the
//      contiguous slice [r · total / world_size, (r + 1) · total / world_size); with global_batches (spk_train
//      --distributed --ssl), the r-th slice of batch_size items of every global batch of batch_size · world_size,
//      as the speaker sampler does (sampler.h): the ranks' batches of step k are then batch k of one process with
//      batch_size · world_size, the same utterances and crops.
// The plan depends only on (seed, epoch, lengths): the same on any machine and worker count, so a resumed run
// reads the batches the uninterrupted one would. Augmentation draws per view from the loader's per-item
// streams (loader.h), so the two views are augmented independently.
#pragma once
#include <cstdint>
#include <vector>

namespace spk::audio {

struct ViewSamplerConfig {
  int64_t batch_size = 200;   // --batch_size: utterances per batch, per rank
  int64_t max_frames = 200;   // --max_frames: crops of max_frames·160 + 240 samples
  bool split = false;         // --ssl_split: non-overlapping views (CEL's loadWAVSplit)
  int64_t local_views = 0;    // --ssl_local_views: DINO's local crops, after the two (global) views
  uint64_t seed = 10;         // --seed
  int64_t world_size = 1;
  int64_t rank = 0;
  bool global_batches = false;   // shard global batches of batch_size · world_size (step 3), not contiguously
};

struct ViewItem {
  int64_t utterance = 0;   // index into the training list
  // The views' first samples: start[0] != start[1] (with split: |Δ| > max_audio), then local_views more, each
  // uniform over the file's crop positions (independent of the others; the trainer trims them, ssl_mode.h).
  std::vector<int64_t> start = {0, 0};
};

struct ViewEpochPlan {
  std::vector<ViewItem> items;   // this rank's; batch b is items [b · batch_size, (b + 1) · batch_size)
  int64_t first_item = 0;        // global position of items[0] in the epoch
  std::vector<int64_t> positions;   // global position of every item (keys its augmentation streams)
  int64_t num_batches = 0;
  int64_t truncated = 0;         // usable utterances cut by the truncation to whole batches (all ranks)
};

// Crop start positions a file of len samples offers (voxceleb_trainer's padding rule, above).
int64_t view_positions(int64_t len, int64_t max_audio);
// The samples a file needs for two views: max_audio + 2 (different starts), 2·max_audio + 2 with split.
int64_t view_min_samples(int64_t max_audio, bool split);

class ViewSampler {
 public:
  // lengths: every listed file's length in samples at the training rate, -1 for an unreadable one. Throws naming
  // --train_list when fewer than two files have two distinct crops, and --batch_size when no full batch exists.
  ViewSampler(std::vector<int64_t> lengths, ViewSamplerConfig cfg);

  ViewEpochPlan plan_epoch(int64_t epoch) const;
  int64_t num_batches() const { return num_batches_; }
  int64_t usable_files() const { return int64_t(usable_.size()); }
  int64_t short_files() const { return int64_t(short_.size()); }
  const std::vector<int64_t>& short_file_indices() const { return short_; }
  int64_t unreadable_files() const { return unreadable_; }
  int64_t max_audio() const;
  const ViewSamplerConfig& config() const { return cfg_; }

 private:
  ViewSamplerConfig cfg_;
  std::vector<int64_t> lengths_;
  std::vector<int64_t> usable_;   // list indices with P >= 2, ascending
  std::vector<int64_t> short_;    // list indices with P < 2
  int64_t unreadable_ = 0;
  int64_t num_batches_ = 0;
};

}  // namespace spk::audio
