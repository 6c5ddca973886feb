// validate_train_config (see trainer.h): every range and consistency check of the training options, before any
// work; each failure is a UsageError naming the flag.
#include <set>

#include "apps/recipe/frontend.h"
#include "apps/recipe/spec_aug_flags.h"
#include "apps/recipe/ssl_mode.h"
#include "apps/recipe/trainer.h"
#include "engine/audio/background_noise.h"
#include "engine/audio/chunk_sampler.h"
#include "engine/cuda.h"
#include "losses/loss.h"
#include "nets/model.h"

namespace spk::recipe {

namespace {

using flag_check::num;
using flag_check::require;

// --sampler pyannote: the chunk settings alone (the data checks come with the training list).
void check_chunk_flags(const RecipeConfig& c) {
  audio::ChunkSamplerConfig cc;
  cc.duration = c.chunk_duration;
  cc.min_duration = c.chunk_min_duration;
  cc.per_label = c.per_label;
  cc.per_fold = c.per_fold;
  cc.per_epoch = c.per_epoch;
  cc.label_min_duration = c.label_min_duration;
  try {
    audio::check_chunk_config(cc);
  } catch (const spk::Error& e) {
    throw UsageError(e.what());
  }
}

// The optimiser, schedule, evaluation and run settings: independent of the model, loss and data.
void check_schedule_and_run(const RecipeConfig& c) {
  require(c.optimizer == "adam" || c.optimizer == "sgd" || c.optimizer == "adamw", "--optimizer",
          "unknown optimizer '" + c.optimizer + "' (adam, sgd, adamw)");
  require(c.scheduler == "steplr" || c.scheduler == "exponential" || c.scheduler == "cosine", "--scheduler",
          "unknown scheduler '" + c.scheduler + "' (steplr, exponential, cosine)");
  require(c.lr > 0, "--lr", "must be positive, got " + num(c.lr));
  require(c.lr_decay > 0 && c.lr_decay <= 1, "--lr_decay", "must be in (0, 1], got " + num(c.lr_decay));
  require(c.final_lr > 0, "--final_lr", "must be positive, got " + num(c.final_lr));
  require(c.weight_decay >= 0, "--weight_decay", "must be 0 or more, got " + num(c.weight_decay));
  require(c.max_epoch >= 1, "--max_epoch", "must be at least 1, got " + num(c.max_epoch));
  require(c.warm_up_epoch >= 0 && c.warm_up_epoch < c.max_epoch, "--warm_up_epoch",
          "must be in [0, max_epoch), got " + num(c.warm_up_epoch));
  require(c.test_interval >= 1, "--test_interval", "must be at least 1, got " + num(c.test_interval));
  require(c.seed >= 0, "--seed", "must be 0 or more, got " + num(c.seed));
  require(c.nan_policy == "stop" || c.nan_policy == "skip", "--nan_policy",
          "unknown policy '" + c.nan_policy + "' (stop, skip)");
  require(c.nan_max_skips >= 1, "--nan_max_skips", "must be at least 1, got " + num(c.nan_max_skips));
  require(c.log_interval >= 1, "--log_interval", "must be at least 1, got " + num(c.log_interval));
  require(c.dcf_p_target > 0 && c.dcf_p_target < 1, "--dcf_p_target", "must be in (0, 1), got " + num(c.dcf_p_target));
  require(c.dcf_c_miss > 0, "--dcf_c_miss", "must be positive, got " + num(c.dcf_c_miss));
  require(c.dcf_c_fa > 0, "--dcf_c_fa", "must be positive, got " + num(c.dcf_c_fa));
  require(!c.save_path.empty(), "--save_path", "must not be empty");
  require(c.device == "cpu" || c.device == "cuda" || c.device.rfind("cuda:", 0) == 0, "--device",
          "'" + c.device + "' is not cpu or cuda");
  if (c.device != "cpu") {
    require(cuda::available(), "--device",
            c.device + " asked for, but this build or machine has no usable GPU (build with CUDA, or use --device cpu)");
  }
}

}  // namespace

void validate_train_config(const RecipeConfig& c) {
  require(!c.model.empty(), "--model", "is required (" + [] {
    std::string s;
    for (const auto& n : model_names()) s += (s.empty() ? "" : ", ") + n;
    return s;
  }() + ")");
  bool known_model = false;
  for (const auto& n : model_names()) known_model |= n == c.model;
  require(known_model, "--model", "unknown model '" + c.model + "'");
  PerSpeaker per_speaker{};
  {
    std::string names;
    for (const auto& n : loss_names()) names += (names.empty() ? "" : ", ") + n;
    require(!c.trainfunc.empty(), "--trainfunc", "is required (" + names + ")");
    require(loss_per_speaker(c.trainfunc, per_speaker), "--trainfunc",
            "unknown loss '" + c.trainfunc + "' (" + names + ")");
  }
  require(c.sampler == "voxceleb" || c.sampler == "pyannote", "--sampler",
          "unknown sampler '" + c.sampler + "' (voxceleb, pyannote)");
  // With --sampler pyannote, --per_label plays nPerSpeaker's part (crops per speaker in a batch).
  const bool chunks = c.sampler == "pyannote";
  // --ssl: two views per utterance play nPerSpeaker 2 (apps/recipe/ssl_mode.h).
  if (c.ssl || c.ssl_split || c.ssl_local_views != 0) validate_ssl_config(c);
  const int64_t per_spk = chunks ? c.per_label : c.ssl ? kSslViews : c.nPerSpeaker;
  const std::string per_spk_flag = chunks ? "--per_label" : c.ssl ? "--ssl (2 views per utterance)" : "--nPerSpeaker";
  if (chunks) check_chunk_flags(c);
  require(c.train_segments.empty() || !c.train_utt2spk.empty(), "--train_segments",
          "is read with --train_utt2spk (a data dir's segments file is found by --train_list DIR itself)");
  require(c.train_utt2spk.empty() || !c.ssl, "--train_utt2spk", "--ssl trains without labels; drop --train_utt2spk");
  require(c.nPerSpeaker >= 1, "--nPerSpeaker", "must be at least 1, got " + num(c.nPerSpeaker));
  require(per_speaker_accepts(per_speaker, per_spk), per_spk_flag,
          num(per_spk) + " does not suit --trainfunc " + c.trainfunc + ", which needs nPerSpeaker " +
              per_speaker_str(per_speaker) +
              (per_speaker == PerSpeaker::one ? " (a classification loss takes one utterance per speaker)"
                                              : " (a metric loss compares utterances of the same speaker)"));
  require(c.nOut >= 1, "--nOut", "must be at least 1, got " + num(c.nOut));
  require(c.n_mels >= 1, "--n_mels", "must be at least 1, got " + num(c.n_mels));
  require(c.max_frames >= 1, "--max_frames", "must be at least 1, got " + num(c.max_frames));
  require(c.eval_frames >= 0, "--eval_frames", "must be 0 (whole utterance) or more, got " + num(c.eval_frames));
  require(c.num_eval >= 1, "--num_eval", "must be at least 1, got " + num(c.num_eval));
  require(c.batch_size >= 1, "--batch_size", "must be at least 1, got " + num(c.batch_size));
  require(c.max_seg_per_spk >= c.nPerSpeaker, "--max_seg_per_spk",
          num(c.max_seg_per_spk) + " is below --nPerSpeaker " + num(c.nPerSpeaker));
  require(c.nDataLoaderThread >= 0, "--nDataLoaderThread", "must be 0 or more, got " + num(c.nDataLoaderThread));
  require(c.nClasses >= 0, "--nClasses", "must be 0 (from the train list) or more, got " + num(c.nClasses));
  require(c.margin >= 0 && c.margin < 3.14159, "--margin", "must be in [0, pi), got " + num(c.margin));
  require(c.scale > 0, "--scale", "must be positive, got " + num(c.scale));
  if (c.increase_start_epoch > 0 || c.fix_start_epoch > 0) {
    require(c.increase_start_epoch >= 1 && c.fix_start_epoch > c.increase_start_epoch, "--fix_start_epoch",
            "the margin ramp needs 1 <= --increase_start_epoch < --fix_start_epoch, got " + num(c.increase_start_epoch) +
                " and " + num(c.fix_start_epoch));
    require(c.initial_margin >= 0 && c.initial_margin < 3.14159, "--initial_margin",
            "must be in [0, pi), got " + num(c.initial_margin));
    static const std::set<std::string> margins = {"amsoftmax", "aamsoftmax", "arc_margin", "arc_linear"};
    require(margins.count(c.trainfunc) != 0, "--increase_start_epoch",
            "a margin ramp needs a margin loss (amsoftmax, aamsoftmax, arc_margin, arc_linear), not " + c.trainfunc);
  }
  require(c.hard_prob >= 0 && c.hard_prob <= 1, "--hard_prob", "must be in [0, 1], got " + num(c.hard_prob));
  check_schedule_and_run(c);
  if (c.add_noise) {
    require(!c.augment, "--add_noise", "and --augment are two augmentation recipes (pyannote's, voxceleb_trainer's); "
            "pass one of them");
    try {
      audio::check_snr_range(c.noise_snr_min, c.noise_snr_max);
    } catch (const spk::Error& e) {
      throw UsageError(e.what());
    }
  }
  validate_loss_settings(c);
  const FrontEnd fe = frontend_config(c);   // checks --frontend and --n_mels against the preset
  spec_aug_config(c, fe);                    // --spec_aug_*: against the features of a training crop
}

}  // namespace spk::recipe
