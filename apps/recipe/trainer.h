// The training loop of spk_train: voxceleb_trainer's recipe (trainSpeakerNet.py + SpeakerNet.train_network)
// on our engine, with resumable checkpoints.
//
// One step: a batch of N speakers × M = nPerSpeaker crops arrives as (M·N, samples) (engine/audio/loader.h);
// fbank on the batch's device; the model gives (M·N, D); reshaped to (M, N, D) and transposed to (N, M, D)
// for the loss, as voxceleb_trainer does; backward; optimiser step. The learning rate follows --scheduler:
// steplr is set once per epoch (lr·lr_decay^floor(epoch/test_interval)), exponential and cosine per step.
//
// With --sampler pyannote the batches are pyannote-audio's (engine/audio/chunk_sampler.h): N = --per_fold speakers,
// M = --per_label chunks of one length per batch; --add_noise adds pyannote's background noise to every crop.
//
// With --ssl (apps/recipe/ssl_mode.h) the training list has no labels and the batches are the view sampler's
// (engine/audio/view_sampler.h): N = --batch_size distinct utterances × M = 2 crops at different offsets, labels
// 0..N-1, so the pair losses train on them as on a supervised nPerSpeaker 2 batch.
//
// Epochs are counted from 1 as voxceleb_trainer's `it`; the sampler and crops of epoch e draw from seed and e.
// After every epoch: <save_path>/model/last.safetensors; every test_interval epochs: evaluation (when a hook
// is given) and model<e:09d>.safetensors; a row of <save_path>/train_log.csv (epoch_log.h).
//
// Start-up, before any work: every setting is checked (validate_train_config), the lists are read and every
// listed file is checked to exist, then the run either resumes from the newest checkpoint in
// <save_path>/model (which must have been made with the same model, loss and training list) or starts fresh,
// optionally from --initial_model weights (fine-tuning; a head of another class count is re-initialised).
// A resumed run continues exactly as the uninterrupted one would have: the checkpoint holds model, loss,
// optimiser, learning rate, step count and RNG state, and the data order depends only on (seed, epoch).
//
// Faults (docs/reliability.md): the end of an epoch writes its log row first and its checkpoints after it, each
// atomically, so a kill at any moment resumes from a complete checkpoint with a log that has each epoch once. A
// loss or gradient that is not finite stops the run (--nan_policy stop) naming the step, the batch's files and
// the last complete checkpoint, or skips the step (--nan_policy skip: no optimiser update) and stops after
// --nan_max_skips in a row. Any error during an epoch (an unreadable file, out of memory, a checkpoint that
// cannot be written) ends with the last complete checkpoint to resume from; out of memory also names the flags
// that shrink a step. Fault points (engine/fault.h): train.loss, train.grad, train.step.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/recipe/config.h"
#include "apps/recipe/frontend.h"
#include "apps/recipe/loss_warnings.h"
#include "engine/audio/fbank.h"
#include "engine/audio/lists.h"
#include "engine/audio/spec_augment.h"
#include "engine/device.h"
#include "engine/dist/grad_buckets.h"
#include "engine/input_stager.h"
#include "losses/loss.h"
#include "losses/momentum.h"

namespace spk::dist {
class Communicator;
}

namespace spk {
class SpeakerNet;
class Optimizer;
class Rng;
}  // namespace spk

namespace spk::audio {
class Augmenter;
class BackgroundNoise;
class ChunkSampler;
class TrainLoader;
class ViewSampler;
struct Batch;
}

namespace spk::recipe {

class EpochLog;
class MixedPrecision;

// Range and consistency checks of the recipe options a training run uses; UsageError naming the flag.
void validate_train_config(const RecipeConfig& c);
// The part of it for the losses/loss_settings.def flags and --trainfunc2 (loss_settings_check.cpp).
void validate_loss_settings(const RecipeConfig& c);
// Its part for ssl-for-slr's frame losses cpc, lim, gim and their settings (frame_loss_check.cpp).
void validate_frame_losses(const RecipeConfig& c);

struct StepProgress {
  int64_t epoch = 0, batch = 0, num_batches = 0;   // batch: 1-based, within the epoch
  double loss = 0, metric = 0;                     // running means over the epoch so far
  MetricKind metric_kind = MetricKind::accuracy;
  double lr = 0;
  double samples_per_s = 0;                        // crops per second over the epoch so far
  double eta_s = 0;                                // rest of the epoch
};

struct EpochSummary {
  int64_t epoch = 0, steps = 0;                    // steps: optimiser steps so far (all epochs)
  double loss = 0, metric = 0, lr = 0, samples_per_s = 0, seconds = 0;
  MetricKind metric_kind = MetricKind::accuracy;
  int64_t bad_files = 0;
  int64_t skipped_steps = 0;                       // --nan_policy skip: steps of this epoch not applied
  nlohmann::json eval;                             // the evaluation of this epoch, or null
};

struct TrainerHooks {
  std::function<void(const std::string&)> log;               // a line of text for the user
  std::function<void(const StepProgress&)> on_step;          // after every optimiser step
  std::function<void(const EpochSummary&)> on_epoch;         // after every epoch (after its checkpoint)
  // Evaluates the model (in eval mode on return it must be restored by the hook) and returns figures to log:
  // {"vt_eer": %, "eer": %, "mindcf": value, ...}; empty hook: no evaluation.
  std::function<nlohmann::json(SpeakerNet& model, const Loss& loss, int64_t epoch)> evaluate;
};

class Trainer {
 public:
  // options: every option's effective value (OptionParser::values()), saved in checkpoints.
  // comm: the ranks of a --distributed run (apps/recipe/distributed.h; null: one process). Rank 0 alone logs,
  // evaluates and writes files; give the others hooks without log, on_step, on_epoch and evaluate.
  Trainer(const RecipeConfig& config, nlohmann::json options, TrainerHooks hooks,
          std::shared_ptr<dist::Communicator> comm = nullptr);
  ~Trainer();

  // Checks, lists, model, loss, optimiser, resume or --initial_model. Throws UsageError / spk::Error.
  void setup();
  // Trains epochs epoch()+1 .. max_epoch. Call setup() first.
  void run();

  int64_t epoch() const { return epoch_; }          // epochs completed
  int64_t step() const { return step_; }
  SpeakerNet& model() { return *model_; }
  Loss& loss() { return *loss_; }
  Loss* second_loss() { return loss2_.get(); }   // --trainfunc2, or null
  const audio::TrainList& train_list() const { return train_; }
  const FrontEnd& frontend() const { return frontend_; }
  bool resumed() const { return resumed_; }

 private:
  void log(const std::string& line) const;
  // The steps of setup(), in order.
  void check_config();
  std::shared_ptr<audio::Augmenter> read_train_data();
  void read_pyannote_data();   // --sampler pyannote, --add_noise (part of read_train_data)
  void build_model_and_loss();
  void build_optimiser();
  void resume_or_initialise();
  void make_loader_and_log(std::shared_ptr<audio::Augmenter> augmenter);
  double lr_at(int64_t epoch0, int64_t batch) const;   // epoch0: epochs completed before this step
  // A step taken (or being taken) whose loss, metric and gradient probe may still be on the device. Issue 17:
  // the loop reads them once per --log_interval, every pending step in one copy, then adds them up and checks
  // them in step order, as it did when it read each step (docs/engine.md, "The GPU step").
  struct StepRecord {
    int64_t epoch = 0, batch_index = 0, step = 0;   // step: the steps taken before this one
    double lr = 0;
    std::vector<int64_t> utterances;               // the batch's files, for a message naming them
    int64_t samples = 0;                           // crops over all ranks
    Tensor values;                                 // (3) f64 on the device: loss, metric, probe; undefined once read
    double loss = 0, metric = 0, probe = 0;        // the values, once read
  };
  // A batch of the loader with its audio and labels already on the device (input prefetch: uploaded while the
  // previous step's kernels run) and its share of the step (distributed.h, step_weight; 1 for one process).
  struct StagedBatch;   // trainer.cpp: the batch, its wav and labels on the device, its weight
  struct EpochTotals {
    double loss_sum = 0, metric_sum = 0;
    int64_t samples = 0, batches = 0;
  };
  EpochSummary train_epoch(int64_t epoch);
  // The loader's next batch that some rank computes, labels checked and uploaded; false at the epoch's end.
  bool next_batch(StagedBatch& s);
  // One training step on s; false when --nan_policy skip dropped it. A step taken is appended to pending_.
  bool train_step(int64_t epoch, const StagedBatch& s);
  // Whether each step's values are read before its update: --nan_policy skip (the step may not be taken),
  // --distributed (the ranks decide together), or SPK_FAULT's train.grad (consulted on finite-loss steps only).
  bool reads_every_step() const;
  void apply_step();                  // gradients averaged, optimiser step, counters
  void read_values(std::vector<StepRecord*> records) const;   // every record still on the device, in one copy
  // Reads pending_, checks and adds each step to t in order, then calls on_step once for the last of them.
  // A non-finite step found here (--nan_policy stop with the reads deferred) stops the run naming that step.
  void report_steps(EpochTotals& t, int64_t num_batches, double seconds);
  // (3) f64 on the device: the step's loss, metric and gradient probe (0 where there is none), no read.
  Tensor step_values(const LossOutput& out, bool computed) const;
  void check_batch_labels(const audio::Batch& b) const;   // on the host, before the upload
  LossOutput forward_loss(int64_t epoch, const StagedBatch& s);   // features, SpecAugment, model, loss(es)
  void set_step_schedule(int64_t epoch, int64_t batch);   // learning rate and margin ramp of this step
  Tensor gradient_probe() const;   // 0 when every gradient is finite, else NaN; on the device; undefined if none
  // A non-finite loss or gradient (`what`) at step r: skips (returns false) or throws, per --nan_policy.
  bool non_finite_step(const StepRecord& r, const std::string& what);
  std::string batch_files(const std::vector<int64_t>& utterances) const;   // for an error message
  void end_epoch(EpochSummary& sum);                      // evaluation, log row, checkpoints
  template <class F>
  void with_resume_note(F&& f, const std::string& oom_hint) const;
  void save(const std::string& path, const nlohmann::json& eval);
  // "the last complete checkpoint is <path> (epoch k): rerun ... to resume from it", or that there is none yet.
  std::string resume_note() const;

  RecipeConfig cfg_;
  nlohmann::json options_;
  TrainerHooks hooks_;
  std::shared_ptr<dist::Communicator> comm_;   // never null: "single" without --distributed
  Device device_;
  InputStager input_;   // the batches' audio to the GPU through pinned memory (engine/input_stager.h)
  audio::TrainList train_;
  FrontEnd frontend_;
  std::optional<SpecAugConfig> spec_aug_;   // --spec_aug: masks on the train step's features, from rng_
  LossWarnings loss_warnings_;   // LossOutput::warning of this epoch's steps
  std::shared_ptr<Rng> rng_;
  std::shared_ptr<SpeakerNet> model_;
  std::shared_ptr<Loss> loss_;
  std::shared_ptr<Loss> loss2_;   // --trainfunc2, or null
  std::unique_ptr<Optimizer> optim_;
  std::unique_ptr<audio::TrainLoader> loader_;
  std::unique_ptr<EpochLog> epoch_log_;
  int64_t epoch_ = 0, step_ = 0;
  int64_t batches_per_epoch_ = 0;
  int64_t non_finite_in_row_ = 0;      // steps skipped since the last applied one (--nan_policy skip)
  std::string last_checkpoint_;        // the newest complete checkpoint (resumed from or written), or ""
  int64_t last_checkpoint_epoch_ = 0;
  bool resumed_ = false;
  // --sampler pyannote / --add_noise (read_train_data): pyannote's chunk sampler and background noise, or null.
  std::shared_ptr<const audio::ChunkSampler> chunks_;
  std::shared_ptr<const audio::BackgroundNoise> noise_;
  // --ssl (read_train_data): the view sampler of apps/recipe/ssl_mode.h, or null.
  std::shared_ptr<const audio::ViewSampler> views_;
  MomentumLoss* momentum_ = nullptr;   // loss_ when it keeps a momentum encoder (MoCo), else null
  std::unique_ptr<MixedPrecision> amp_;   // --mixedprec (mixed_precision.h); set by check_config
  std::vector<StepRecord> pending_;   // steps of this epoch not yet reported (train_step, report_steps)
  // --distributed: the gradients' bucketed all-reduces, started during backward (made on the first step).
  std::unique_ptr<dist::GradBuckets> grad_buckets_;
};

}  // namespace spk::recipe
