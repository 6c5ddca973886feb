// voxceleb_trainer's speaker-balanced sampler (DatasetLoader.train_dataset_sampler), with one change:
// groups rejected because their speaker is already in the current batch are re-queued for later batches
// instead of dropped (the data waste reported in https://github.com/clovaai/voxceleb_trainer/pull/136).
//
// Per epoch, from Rng(seed + epoch) (voxceleb_trainer seeds torch.Generator with seed + epoch):
//   1. permute all utterance indices; bucket them per speaker in permuted order;
//   2. per speaker (ascending label): take the first round_down(min(n, max_seg_per_spk), nPerSpeaker) and cut
//      them into groups of nPerSpeaker consecutive indices (one item = one group, labelled with the speaker);
//   3. permute the groups; fill batches of batch_size items, each speaker at most once per batch. A group
//      whose speaker is already in the batch goes to a FIFO of deferred groups; every new batch first takes
//      deferred groups (oldest first, one per speaker) and then continues with the permuted stream. When the
//      stream is exhausted, batches keep being formed from the deferred groups while a full batch of distinct
//      speakers can still be made;
//   4. truncate to a multiple of batch_size * world_size and give rank r the contiguous slice
//      [r * total / world_size, (r + 1) * total / world_size).
// With global_batches (spk_train --distributed, docs/distributed.md) steps 3 and 4 differ: batches are filled at
// the global size batch_size * world_size (distinct speakers across all ranks' batches of a step), and rank r
// takes the r-th slice of batch_size items of every global batch. So the world_size ranks' batches of step k are
// together exactly batch k of one process with batch_size * world_size (same items, same crops: a crop draws
// from its item's global position), which makes a data-parallel step equal a single-process step.
// Deterministic: single-threaded, counter-based Rng; the same (seed, epoch, list) gives the same plan on any
// machine and thread count.
#pragma once
#include <cstdint>
#include <vector>

namespace spk::audio {

struct SamplerConfig {
  int64_t batch_size = 200;        // --batch_size: groups (speakers) per batch, per rank
  int64_t n_per_speaker = 1;       // --nPerSpeaker: utterances per group
  int64_t max_seg_per_spk = 500;   // --max_seg_per_spk
  uint64_t seed = 10;              // --seed
  int64_t world_size = 1;
  int64_t rank = 0;
  bool global_batches = false;     // shard global batches of batch_size * world_size (above), not contiguously
};

struct SamplerItem {
  int64_t label = 0;
  std::vector<int64_t> utterances;   // n_per_speaker indices into the training list
};

struct EpochPlan {
  std::vector<SamplerItem> items;   // this rank's items; batch b is items [b * batch_size, (b + 1) * batch_size)
  int64_t first_item = 0;           // global position of items[0] in the epoch (rank * shard size)
  std::vector<int64_t> positions;   // global position in the epoch of each of items (its crops' random stream)
  int64_t num_batches = 0;          // items.size() / batch_size
  // Accounting over all ranks:
  int64_t eligible_groups = 0;      // groups formed in step 2
  int64_t placed_groups = 0;        // groups placed into batches (before truncation)
  int64_t unplaceable_groups = 0;   // deferred groups left when no full batch of distinct speakers remained
  int64_t truncated_groups = 0;     // placed groups cut by the truncation to batch_size * world_size
};

// labels: per-utterance class index in [0, num_classes). Throws (naming --batch_size / --nPerSpeaker and the
// numbers) when fewer speakers have nPerSpeaker utterances than batch_size, or no full batch per rank exists.
EpochPlan plan_epoch(const std::vector<int64_t>& labels, const SamplerConfig& cfg, int64_t epoch);

}  // namespace spk::audio
