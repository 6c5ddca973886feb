// spk_train --ssl: the unlabelled list, the view sampler and the mode's flag checks (see ssl_mode.h).
#include "apps/recipe/ssl_mode.h"


#include "engine/audio/audio_file.h"
#include "engine/audio/chunk_sampler.h"
#include "engine/audio/crop.h"
#include "engine/audio/unlabelled_list.h"
#include "engine/ops.h"
#include "nets/model.h"
#include "engine/audio/view_augment.h"
#include "engine/audio/view_sampler.h"
#include "losses/second_loss.h"

namespace spk::recipe {

using flag_check::num;
using flag_check::require;

namespace {

audio::ViewAugmentConfig view_augment_config(const RecipeConfig& c) {
  audio::ViewAugmentConfig v;
  v.gain_db = c.ssl_aug_gain_db;
  v.snr_min = c.ssl_aug_snr_min;
  v.snr_max = c.ssl_aug_snr_max;
  v.reverb_prob = c.ssl_aug_reverb_prob;
  v.lowpass_prob = c.ssl_aug_lowpass_prob;
  return v;
}

}  // namespace

Tensor embed_views(SpeakerNet& model, const Tensor& feats, int64_t m, int64_t n, int64_t local_frames) {
  if (m <= kSslViews) return model.forward(feats);
  Tensor global = model.forward(slice(feats, 0, 0, kSslViews * n));
  Tensor local = slice(feats, 0, kSslViews * n, m * n);
  // Features (rows, bins, frames): the first local_frames frames; a waveform (rows, 1, samples): the samples of a
  // local_frames crop.
  const int64_t keep = local.size(1) == 1 ? audio::max_audio_samples(local_frames) : local_frames;
  SPK_CHECK(local.dim() == 3 && keep < local.size(2), "--ssl_local_frames ", local_frames, ": ", keep,
            " of the crop's ", local.size(2), " steps");
  return concat({global, model.forward(slice(local, 2, 0, keep))}, 0);
}

std::shared_ptr<const audio::ViewAugment> make_view_augment(const RecipeConfig& c) {
  // The rule: MUSAN/RIR where given, the synthetic stand-in when not.
  if (!c.ssl || !c.ssl_aug || c.augment || c.add_noise) return nullptr;
  return std::make_shared<audio::ViewAugment>(view_augment_config(c));
}

void validate_ssl_config(const RecipeConfig& c) {
  require(c.ssl || !c.ssl_split, "--ssl_split", "only applies to --ssl (the views of self-supervised training)");
  require(c.ssl || c.ssl_local_views == 0, "--ssl_local_views", "only applies to --ssl (the views of "
          "self-supervised training)");
  require(c.ssl_local_views >= 0, "--ssl_local_views", "must be >= 0, got " + num(c.ssl_local_views));
  require(c.ssl_local_views == 0 || c.trainfunc == "dino", "--ssl_local_views",
          num(c.ssl_local_views) + " local crops, which only --trainfunc dino reads, not " + c.trainfunc);
  require(c.trainfunc != "dino" || c.ssl_local_views >= 1, "--ssl_local_views",
          "0: --trainfunc dino needs local crops besides the 2 global views (wespeaker: --ssl_local_views 4)");
  require(c.ssl_local_views == 0 || (c.ssl_local_frames >= 1 && c.ssl_local_frames < c.max_frames),
          "--ssl_local_frames", num(c.ssl_local_frames) + ": local crops are shorter than the global ones, so "
          "between 1 and --max_frames " + num(c.max_frames) + " - 1");
  const std::string pair_losses =
      "angleproto, anglecontrast, ssl_infonce, uniformity, cel, proto, ge2e, moco, dino; or cpc, lim, gim on frames";
  require(!loss_uses_class_labels(c.trainfunc), "--trainfunc",
          c.trainfunc + " trains a classifier over speaker labels, which --ssl does not have; use a pair loss (" +
              pair_losses + ")");
  require(c.trainfunc2.empty() || !loss_uses_class_labels(second_loss_name(c.trainfunc2)), "--trainfunc2",
          c.trainfunc2 + " trains a classifier over speaker labels, which --ssl does not have (CEL pre-trains with "
          "--trainfunc2 uniform)");
  require(c.nPerSpeaker == 1 || c.nPerSpeaker == kSslViews, "--nPerSpeaker",
          num(c.nPerSpeaker) + " with --ssl, which draws exactly 2 crops (views) of each utterance; leave it out or "
          "set it to 2");
  require(c.sampler == "voxceleb", "--sampler", c.sampler + " with --ssl, which has its own view sampler; leave "
          "--sampler out");
  try {
    audio::check_view_augment_config(view_augment_config(c));
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

audio::TrainList read_ssl_train_list(const RecipeConfig& c) {
  audio::UnlabelledList u;
  try {
    u = audio::read_unlabelled_list(c.train_list, c.train_path);
  } catch (const Error& e) {
    throw UsageError("--train_list (--ssl): " + std::string(e.what()));
  }
  if (u.list.size() < 2)
    throw UsageError("--train_list " + c.train_list + ": --ssl needs at least two files (the other utterances of a "
                     "batch are each one's negatives), the list has " + std::to_string(u.list.size()) +
                     (u.duplicates ? " distinct (" + std::to_string(u.duplicates) + " duplicate lines)" : ""));
  return u.list;
}

SslTrainData plan_ssl_views(audio::TrainList list, const RecipeConfig& c, int64_t world_size, int64_t rank) {
  audio::ViewSamplerConfig vc;
  vc.world_size = world_size;   // --distributed: this rank's slice of every global batch (view_sampler.h)
  vc.rank = rank;
  vc.global_batches = world_size > 1;
  vc.batch_size = c.batch_size;
  vc.max_frames = c.max_frames;
  vc.seed = uint64_t(c.seed);
  vc.split = c.ssl_split;
  vc.local_views = c.ssl_local_views;
  SslTrainData d;
  try {
    d.views = std::make_shared<audio::ViewSampler>(
        audio::utterance_lengths(list.paths, audio::kDefaultSampleRate, c.skip_bad_files), vc);
  } catch (const Error& e) {
    throw UsageError(std::string(e.what()) + " (--ssl, --train_list " + c.train_list + ")");
  }
  const audio::ViewSampler& v = *d.views;
  const std::string kind = c.ssl_split ? "non-overlapping" : "distinct";
  d.report = "--ssl: " + std::to_string(v.usable_files()) + " of " + std::to_string(list.size()) + " files give two " +
             (c.ssl_split ? "non-overlapping crops" : "crops at different offsets") + ", " +
             std::to_string(v.num_batches()) + " batches of " + std::to_string(c.batch_size) +
             " utterances x 2 views per epoch";
  if (v.short_files() > 0) {
    d.report += "; " + std::to_string(v.short_files()) + " files left out, too short for two " + kind +
                " crops of --max_frames " + std::to_string(c.max_frames) + " (" +
                std::to_string(audio::view_min_samples(v.max_audio(), c.ssl_split)) + " samples or more), e.g. '" +
                list.paths[size_t(v.short_file_indices().front())] + "'";
  }
  if (v.unreadable_files() > 0)
    d.report += "; " + std::to_string(v.unreadable_files()) + " unreadable files left out (--skip_bad_files)";
  d.list = std::move(list);
  return d;
}

}  // namespace spk::recipe
