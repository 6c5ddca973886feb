// pyannote-audio's SpeechSegmentGenerator (pyannote/audio/embedding/generators.py at 562b74e4, the sampler of
// Coria et al. 2020, "A Comparison of Metric Learning Loss Functions for End-to-End Speaker Verification"):
// variable-length chunks cut at random positions, batches of per_fold speakers × per_label chunks.
//
// What pyannote does, and what we keep:
//   * files: a file is kept for a speaker only when it is longer than `duration` (pyannote drops speech turns
//     with s.duration <= duration; a VoxCeleb file is one turn). A speaker whose kept files total less than
//     label_min_duration seconds is dropped.
//   * batches: one chunk duration per batch, d ~ U[min_duration, duration] (pyannote redraws it every
//     batch_size samples), so every chunk of a batch has round(d · rate) samples and the batch is rectangular.
//   * speakers: the kept speakers are shuffled and walked in order, per_fold of them per batch; when the walk
//     reaches the end the list is shuffled again and the walk continues.
//   * chunks: for each speaker, per_label files drawn with replacement with probability proportional to their
//     length (np.random.choice(p = durations / sum)), and in each a chunk at a uniform random position
//     (random_subsegment).
//   * epoch: ceil(per_epoch / (mean chunk duration · per_fold · per_label)) batches (batches_per_epoch), with
//     per_epoch in days; 0 means the total duration of the kept files (pyannote's default).
// Differences, all for reproducibility or batch structure:
//   * pyannote's generator is one endless stream; here each epoch's plan is drawn afresh from (seed, epoch), so
//     a resumed run sees the same data as an uninterrupted one (the speaker walk restarts every epoch).
//   * when a reshuffle happens in the middle of a batch, the speakers already in that batch are moved to the end
//     of the new order, so a batch never holds a speaker twice (pyannote can, at the seam); every speaker still
//     comes once per walk.
//   * chunk positions are whole samples: start ~ U{0, ..., len - L}.
//
// The plan is drawn single-threaded from Rng(seed).fork(epoch).fork(kChunkPlanStream); the loader's workers
// only read the planned chunks, so batches do not depend on the worker count.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/audio/lists.h"

namespace spk::audio {

struct ChunkSamplerConfig {
  double duration = 3.0;             // --chunk_duration: longest chunk, seconds
  double min_duration = 0;           // --chunk_min_duration: shortest chunk; 0 = duration (fixed-length chunks)
  int64_t per_label = 1;             // --per_label: chunks per speaker in a batch (M)
  int64_t per_fold = 128;            // --per_fold: speakers per batch (N)
  double per_epoch = 0;              // --per_epoch: audio per epoch in days; 0 = the kept files' total
  double label_min_duration = 30;    // --label_min_duration: speakers with less kept audio (s) are dropped
  int sample_rate = 16000;
  uint64_t seed = 10;                // --seed
};

// Range checks of the settings alone (no data): throws spk::Error naming the flag.
void check_chunk_config(const ChunkSamplerConfig& cfg);

struct ChunkPick {
  int64_t utterance = 0;   // index into the training list
  int64_t start = 0;       // first sample of the chunk, at the sampler's rate
};

struct ChunkItem {
  int64_t label = 0;
  std::vector<ChunkPick> chunks;   // per_label chunks of this speaker
};

struct ChunkBatch {
  int64_t samples = 0;             // L: every chunk of the batch has this many samples
  std::vector<ChunkItem> items;    // per_fold distinct speakers
};

struct ChunkEpochPlan {
  std::vector<ChunkBatch> batches;
};

constexpr uint64_t kChunkPlanStream = ~uint64_t(0);   // the loader's per-item streams fork(item) never reach it

class ChunkSampler {
 public:
  // labels: per-utterance speaker; lengths: per-utterance length in samples at cfg.sample_rate, or a negative
  // value for a file to leave out (unreadable, with --skip_bad_files). Throws spk::Error naming the flag when
  // the settings are out of range, when no file is longer than --chunk_duration, or when fewer than --per_fold
  // speakers are left after --label_min_duration.
  ChunkSampler(const std::vector<int64_t>& labels, const std::vector<int64_t>& lengths, ChunkSamplerConfig cfg);

  ChunkEpochPlan plan_epoch(int64_t epoch) const;

  const ChunkSamplerConfig& config() const { return cfg_; }
  int64_t num_batches() const { return num_batches_; }
  int64_t max_samples() const { return max_samples_; }   // round(duration · rate)
  int64_t min_samples() const { return min_samples_; }
  // Accounting of the file and speaker filters.
  int64_t kept_files() const { return kept_files_; }
  int64_t short_files() const { return short_files_; }           // not longer than --chunk_duration
  int64_t kept_speakers() const { return int64_t(speakers_.size()); }
  int64_t dropped_speakers() const { return dropped_speakers_; }   // below --label_min_duration
  double kept_seconds() const { return kept_seconds_; }
  const std::vector<int64_t>& speakers() const { return speakers_; }   // kept labels, ascending

 private:
  struct Speaker {
    std::vector<int64_t> files;    // kept utterances
    std::vector<int64_t> cumlen;   // running sums of their lengths, for the length-weighted draw
  };
  ChunkSamplerConfig cfg_;
  std::vector<int64_t> lengths_;
  std::vector<int64_t> speakers_;
  std::vector<Speaker> data_;      // parallel to speakers_
  int64_t num_batches_ = 0, max_samples_ = 0, min_samples_ = 0;
  int64_t kept_files_ = 0, short_files_ = 0, dropped_speakers_ = 0;
  double kept_seconds_ = 0;
};

// Every file's length in samples at sample_rate, from its header (no decoding). A file at another rate counts
// floor(frames · sample_rate / rate) samples. An unreadable file throws naming it, or with skip_bad gets -1.
std::vector<int64_t> utterance_lengths(const std::vector<std::string>& paths, int sample_rate, bool skip_bad);

// samples [start, start + count) of the file at sample_rate into out: a seeking read when the file is at that
// rate, else the resampled file (a chunk past its end, by a rounding sample, is moved back to fit).
void read_chunk(const std::string& path, int64_t start, int64_t count, int sample_rate, float* out);

// The same for a list with Kaldi segments (lists.h): an utterance's length is its segment's, frames
// segment_frames(seg, rate) converted as above, and its chunk's samples count from the segment's start.
std::vector<int64_t> utterance_lengths(const TrainList& list, int sample_rate, bool skip_bad);
void read_segment_chunk(const std::string& path, const Segment& seg, int64_t start, int64_t count, int sample_rate,
                        float* out);

}  // namespace spk::audio
