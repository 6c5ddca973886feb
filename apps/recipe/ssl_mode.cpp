// spk_train --ssl: the unlabelled list, the view sampler and the mode's flag checks (see ssl_mode.h).
#include "apps/recipe/ssl_mode.h"


#include "engine/audio/audio_file.h"
#include "engine/audio/chunk_sampler.h"
#include "engine/audio/unlabelled_list.h"
#include "engine/audio/view_sampler.h"
#include "losses/second_loss.h"

namespace spk::recipe {

using flag_check::num;
using flag_check::require;

void validate_ssl_config(const RecipeConfig& c) {
  require(c.ssl, "--ssl_split", "only applies to --ssl (the views of self-supervised training)");
  const std::string pair_losses = "angleproto, anglecontrast, ssl_infonce, uniformity, cel, proto, ge2e";
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

SslTrainData plan_ssl_views(audio::TrainList list, const RecipeConfig& c) {
  audio::ViewSamplerConfig vc;
  vc.batch_size = c.batch_size;
  vc.max_frames = c.max_frames;
  vc.seed = uint64_t(c.seed);
  vc.split = c.ssl_split;
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
