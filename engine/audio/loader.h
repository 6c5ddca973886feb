// Training and evaluation readers: worker threads decode, crop (and augment) ahead of the trainer through
// a bounded, ordered queue (ordered_pipeline.h).
//
// Training batches use voxceleb_trainer's model-input layout: the DataLoader yields (N, M, L) — N groups
// (speakers) of M = nPerSpeaker crops of L samples — and the trainer feeds data.transpose(1, 0) flattened,
// i.e. (M·N, L) with row m·N + n = crop m of group n. Batch::wav is that (M·N, L) buffer, contiguous; the
// embeddings (M·N, D) reshape to (M, N, D) and transpose back to (N, M, D) for the loss.
//
// Determinism: crop m of the item at global position g of epoch e draws from
// Rng(seed).fork(e).fork(g).fork(m) — content depends on (seed, epoch, list), never on the worker count.
// Errors: a failing file aborts the epoch; next() re-throws the error (it names the file) in batch order.
// With skip_bad_files, a group with a bad file is dropped from its batch (the batch has N - 1 groups),
// and bad_files() counts it; a batch left with no group is skipped (unless keep_empty_batches). (A bad
// augmentation file counts against the utterance being augmented; the recorded error names the noise/RIR file.)
// Memory: batch buffers are pooled; a buffer is reused once every Tensor handle to it (the Batch, views,
// copies of the handle) is gone, so keep the Batch (or a clone) as long as its data is needed.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/audio/audio_file.h"
#include "engine/audio/augment.h"
#include "engine/audio/background_noise.h"
#include "engine/audio/chunk_sampler.h"
#include "engine/audio/lists.h"
#include "engine/audio/ordered_pipeline.h"
#include "engine/audio/sampler.h"
#include "engine/audio/view_augment.h"
#include "engine/audio/view_sampler.h"
#include "engine/tensor.h"

namespace spk::audio {

struct LoaderConfig {
  SamplerConfig sampler;
  int64_t max_frames = 200;          // --max_frames: crops of max_frames·160 + 240 samples
  int sample_rate = kDefaultSampleRate;
  int num_workers = 5;               // --nDataLoaderThread (0: decode on the consumer's thread)
  int64_t prefetch_batches = 0;      // bounded queue depth; 0 -> 2 · max(num_workers, 1)
  bool skip_bad_files = false;
  // A batch left with no group is handed out (n = 0) rather than skipped: the ranks of a --distributed run must
  // all take every step, so one whose share was all bad still joins the step's collectives.
  bool keep_empty_batches = false;
  std::shared_ptr<const Augmenter> augment;   // null: --augment off
  // --sampler pyannote: batches of chunk_sampler.h (per_fold groups of per_label chunks, one length per batch)
  // instead of `sampler` and max_frames. The layout is the same, with N = per_fold, M = per_label and L the
  // batch's chunk length; crops draw from the same per-item streams (noise only: chunk positions are planned).
  std::shared_ptr<const ChunkSampler> chunks;
  std::shared_ptr<const BackgroundNoise> noise;   // non-null: --add_noise, after any --augment, on every crop
  // --ssl: batches of view_sampler.h (batch_size utterances, M = 2 views each at the planned starts, N = batch_size,
  // labels 0..N-1) instead of `sampler`; views draw augmentation from the same per-item streams as other crops.
  std::shared_ptr<const ViewSampler> views;
  // --ssl_aug (--ssl without --augment / --add_noise): each view's synthetic augmentation, last, from its stream.
  std::shared_ptr<const ViewAugment> view_augment;
};

struct Batch {
  int64_t epoch = 0, index = 0;        // index: batch number within this rank's epoch
  int64_t n = 0, m = 0, samples = 0;   // groups, crops per group, samples per crop
  Tensor wav;                          // (M·N, samples) f32 cpu; row m·N + n = crop m of group n
  Tensor labels;                       // (N) i64, the speaker of each group
  std::vector<int64_t> utterances;     // (M·N) training-list indices, in row order
  int64_t skipped_groups = 0;          // groups dropped from this batch (skip_bad_files)
};

class TrainLoader {
 public:
  TrainLoader(TrainList list, LoaderConfig cfg);
  ~TrainLoader();
  TrainLoader(const TrainLoader&) = delete;
  TrainLoader& operator=(const TrainLoader&) = delete;

  // Plans the epoch (sampler) and starts the workers; a running epoch is stopped first.
  void start_epoch(int64_t epoch);
  // The next batch of the epoch; false at its end. Re-throws a worker's error (naming the file).
  bool next(Batch& out);
  void stop();   // ends the epoch early; joins the workers

  const EpochPlan& plan() const { return plan_; }
  int64_t num_batches() const {
    return cfg_.chunks ? int64_t(chunk_plan_.batches.size()) / chunk_shards()
           : cfg_.views ? view_plan_.num_batches
                        : plan_.num_batches;
  }
  // --sampler pyannote with sampler.global_batches (--distributed): rank r of W takes the planned chunk batches
  // r, r + W, r + 2W, ... (batches of one chunk length cannot be cut into shares of another length); the last
  // (count mod W) batches of an epoch are left out, so every rank takes the same number of steps.
  int64_t chunk_shards() const { return cfg_.sampler.global_batches ? cfg_.sampler.world_size : 1; }
  const ChunkEpochPlan& chunk_plan() const { return chunk_plan_; }   // --sampler pyannote
  const ViewEpochPlan& view_plan() const { return view_plan_; }      // --ssl
  const TrainList& list() const { return list_; }
  const LoaderConfig& config() const { return cfg_; }

  // skip_bad_files accounting (thread-safe): groups dropped so far, and the distinct errors seen.
  int64_t bad_files() const { return bad_count_.load(); }
  std::vector<std::string> bad_file_errors() const;

 private:
  // The frame every batch kind shares: an (M·N, L) buffer; item n's streams fork from (seed, epoch, item_key(n)),
  // crop m's from that and m; row (m, n) is read by read(n, m, row, rng) from utterance(n, m), then augmented
  // (load_row); an item whose file fails is dropped (skip_bad_files) and the rest packed with label(n).
  Batch assemble_batch(int64_t epoch, int64_t b, int64_t N, int64_t M, int64_t L, uint64_t seed,
                       const std::function<uint64_t(int64_t)>& item_key, const std::function<int64_t(int64_t)>& label,
                       const std::function<int64_t(int64_t, int64_t)>& utterance,
                       const std::function<void(int64_t, int64_t, float*, Rng&)>& read);
  Batch make_batch(int64_t epoch, int64_t b);
  Batch make_chunk_batch(int64_t epoch, int64_t b);
  Batch make_view_batch(int64_t epoch, int64_t b);
  void note_bad(const std::string& what);
  // Fills one row of a batch: read() writes the crop into row, then --augment and --noise apply from rng. A file
  // error stops the run naming the batch and the file, or with skip_bad_files is counted and returns false (the
  // caller drops the item).
  bool load_row(int64_t epoch, int64_t b, int64_t utterance, float* row, int64_t samples, Rng& rng,
                const std::function<void()>& read);
  Tensor acquire_buffer(const Shape& shape);

  TrainList list_;
  LoaderConfig cfg_;
  EpochPlan plan_;
  ChunkEpochPlan chunk_plan_;
  ViewEpochPlan view_plan_;
  std::unique_ptr<OrderedPipeline<Batch>> pipe_;
  std::atomic<int64_t> bad_count_{0};
  mutable std::mutex bad_mutex_;
  std::set<std::string> bad_errors_;
  // Batch buffers handed out earlier; one whose only owner is the pool again is reused, so steady-state
  // batches cost no fresh pages (first-touch page faults were ~10 % of a crop).
  std::mutex pool_mutex_;
  std::vector<Tensor> pool_;
};

// Evaluation: each file's crops, in list order. wav is (num_eval, max_audio) with max_audio =
// eval_frames·160 + 240, or (1, len) for eval_frames == 0 (crop.h has the exact semantics).
struct EvalItem {
  int64_t index = 0;
  std::string path;
  Tensor wav;
};

struct EvalConfig {
  int64_t eval_frames = 300;   // --eval_frames
  int64_t num_eval = 10;
  int sample_rate = kDefaultSampleRate;
  int num_workers = 5;
  int64_t prefetch = 0;        // 0 -> 4 · max(num_workers, 1)
};

class EvalReader {
 public:
  EvalReader(std::vector<std::string> paths, EvalConfig cfg);
  EvalReader(const EvalReader&) = delete;
  EvalReader& operator=(const EvalReader&) = delete;
  bool next(EvalItem& out);    // false at the end; re-throws a decoding error naming the file
  int64_t size() const { return int64_t(paths_.size()); }

 private:
  std::vector<std::string> paths_;
  EvalConfig cfg_;
  std::unique_ptr<OrderedPipeline<EvalItem>> pipe_;
};

}  // namespace spk::audio
