// validate_loss_settings (see trainer.h): the range and name checks of the losses/loss_settings.def flags and of
// --trainfunc2 / --trainfunc2_weight, before any work; each failure is a UsageError naming the flag. Every
// setting is checked whichever loss reads it, so a recipe file cannot carry a bad value unnoticed. (A second
// classification loss's class count is checked against the training list with the first's, Trainer::
// read_train_data.)
#include <cmath>
#include <set>

#include "apps/recipe/trainer.h"
#include "losses/loss.h"
#include "losses/second_loss.h"

namespace spk::recipe {

namespace {

constexpr double kPi = 3.14159265358979323846;

using flag_check::num;
using flag_check::require;

void one_of(const std::string& value, const std::string& flag, const std::set<std::string>& allowed) {
  std::string names;
  for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + a;
  require(allowed.count(value) != 0, flag, "unknown value '" + value + "' (" + names + ")");
}

void positive(double v, const std::string& flag) { require(v > 0, flag, "must be positive, got " + num(v)); }
void non_negative(double v, const std::string& flag) { require(v >= 0, flag, "must be 0 or more, got " + num(v)); }
void angle(double v, const std::string& flag) {
  require(v >= 0 && v < kPi, flag, "must be in [0, pi), got " + num(v));
}

// HardNeg's --mode (ECAPAModel.py train_network / train_clip / train_blip): classifier is AAM-softmax on single
// utterances, clip and blip the InfoNCE/AAM-softmax mix on pairs. The utterances per speaker need no check here:
// the loss's own requirement (1 for aamsoftmax, exactly 2 for (aam_)infonce) is checked first, naming --nPerSpeaker.
void validate_hardneg_mode(const RecipeConfig& c) {
  const std::string& mode = c.hardneg_mode;
  one_of(mode, "--hardneg_mode", {"none", "classifier", "clip", "blip"});
  require(c.blip_itm_weight >= 0 && c.blip_itm_weight <= 1, "--blip_itm_weight",
          "must be in [0, 1], got " + num(c.blip_itm_weight));
  require(c.blip_itm_heads > 0 && c.nOut % c.blip_itm_heads == 0, "--blip_itm_heads",
          "must be positive and divide --nOut " + num(double(c.nOut)) + ", got " + num(double(c.blip_itm_heads)));
  if (mode == "classifier") {
    require(c.trainfunc == "aamsoftmax", "--hardneg_mode",
            "classifier trains HardNeg's AAM-softmax: --trainfunc aamsoftmax, not " + c.trainfunc);
  } else if (mode != "none") {
    require(c.trainfunc == "infonce" || c.trainfunc == "aam_infonce", "--hardneg_mode",
            mode + " trains HardNeg's contrastive loss: --trainfunc infonce or aam_infonce, not " + c.trainfunc);
    require(c.infonce_aam_mix != "false", "--infonce_aam_mix",
            "false does not fit --hardneg_mode " + mode + " (HardNeg always mixes in the AAM-softmax)");
  }
}

// ssl-for-slr SimCLR's VICReg terms (losses/ssl_infonce.h): weights >= 0; the variance term is over the batch, so
// a batch of one utterance (per view) is refused before any work rather than at the first step.
void validate_vicreg(const RecipeConfig& c) {
  non_negative(c.vicreg_factor, "--vicreg_factor");
  non_negative(c.vicreg_inv_weight, "--vicreg_inv_weight");
  non_negative(c.vicreg_var_weight, "--vicreg_var_weight");
  non_negative(c.vicreg_cov_weight, "--vicreg_cov_weight");
  if (c.vicreg_factor == 0) return;
  require(c.trainfunc == "ssl_infonce" || c.trainfunc2 == "ssl_infonce", "--vicreg_factor",
          num(c.vicreg_factor) + " adds VICReg terms to SimCLR's loss, which only --trainfunc ssl_infonce has, not " +
              c.trainfunc);
  require(c.batch_size >= 2, "--vicreg_factor",
          num(c.vicreg_factor) + " needs --batch_size 2 or more (VICReg's variance is over the batch), got " +
              num(double(c.batch_size)));
}

}  // namespace

void validate_loss_settings(const RecipeConfig& c) {
  // (Values are finite: the option parser rejects NaN and infinities.)
  one_of(c.sim_loss, "--sim_loss", {"anglecontrast", "angleproto", "proto"});
  non_negative(c.lambda_s, "--lambda_s");
  non_negative(c.lambda_u, "--lambda_u");
  positive(c.uniform_t, "--uniform_t");
  one_of(c.sample_type, "--sample_type", {"PoN", "APN", "AN"});
  require(c.infonce_temperature > 0 && c.infonce_temperature < 1, "--infonce_temperature",
          "must be in (0, 1): the logit scale starts at ln(1/T), got " + num(c.infonce_temperature));
  one_of(c.infonce_aam_mix, "--infonce_aam_mix", {"auto", "true", "false"});
  one_of(c.moco_key_bn, "--moco_key_bn", {"batch", "running"});
  require(c.infonce_mix_weight >= 0 && c.infonce_mix_weight <= 1, "--infonce_mix_weight",
          "must be in [0, 1], got " + num(c.infonce_mix_weight));
  angle(c.infonce_cls_margin, "--infonce_cls_margin");
  positive(c.infonce_cls_scale, "--infonce_cls_scale");
  angle(c.infonce_row_margin, "--infonce_row_margin");
  positive(c.infonce_row_scale, "--infonce_row_scale");
  positive(c.ssl_temperature, "--ssl_temperature");
  non_negative(double(c.ssl_proj_layers), "--ssl_proj_layers");
  require(c.ssl_proj_dim >= 1, "--ssl_proj_dim", "the projection head's width must be at least 1, got " +
          num(double(c.ssl_proj_dim)));
  const bool head_loss = c.trainfunc == "ssl_infonce" || c.trainfunc2 == "ssl_infonce" || c.trainfunc == "moco";
  require(c.ssl_proj_layers == 0 || head_loss, "--ssl_proj_layers",
          num(double(c.ssl_proj_layers)) + " asks for a projection head, which only --trainfunc ssl_infonce (SimCLR) "
          "and moco have, not " + c.trainfunc);
  validate_vicreg(c);
  if (c.trainfunc == "moco") {
    require(c.ssl_proj_layers >= 1, "--ssl_proj_layers", "0: moco needs a projection head of at least one layer "
            "(ssl-for-slr: --ssl_proj_layers 2 --ssl_proj_dim 512)");
    require(c.moco_queue >= c.batch_size, "--moco_queue", num(double(c.moco_queue)) + " is smaller than one batch (--batch_size " +
            num(double(c.batch_size)) + "): every step queues its batch of keys");
    require(c.moco_momentum >= 0 && c.moco_momentum <= 1, "--moco_momentum", "must be in [0, 1], got " +
            num(c.moco_momentum));
  }
  // --distributed: MoCo's queue and DINO's centre are kept alike on every rank (all-gathered keys, all-reduced
  // centre; docs/distributed.md); apps/recipe/distributed.cpp checks --moco_queue against every rank's keys.
  require(c.trainfunc2 != "moco" && c.trainfunc2 != "dino", "--trainfunc2",
          c.trainfunc2 + " has a momentum encoder of its own and trains only as --trainfunc");
  if (c.trainfunc == "dino") {
    require(c.ssl, "--trainfunc", "dino trains on the views of --ssl (2 global + --ssl_local_views local crops); "
            "add --ssl");
    for (const auto& [v, flag] : {std::pair{c.dino_out, "--dino_out"}, {c.dino_hidden, "--dino_hidden"},
                                  {c.dino_bottleneck, "--dino_bottleneck"}})
      require(v >= 1, flag, "the DINO head's sizes must be at least 1, got " + num(double(v)));
    positive(c.dino_teacher_temp, "--dino_teacher_temp");
    positive(c.dino_warmup_teacher_temp, "--dino_warmup_teacher_temp");
    positive(c.dino_student_temp, "--dino_student_temp");
    for (const auto& [v, flag] : {std::pair{c.dino_center_momentum, "--dino_center_momentum"},
                                  {c.dino_momentum, "--dino_momentum"}})
      require(v >= 0 && v <= 1, flag, "must be in [0, 1], got " + num(v));
  }
  angle(c.pyannote_aam_margin, "--pyannote_aam_margin");
  positive(c.pyannote_aam_scale, "--pyannote_aam_scale");
  positive(c.pyannote_coco_alpha, "--pyannote_coco_alpha");
  non_negative(c.pyannote_center_loss_weight, "--pyannote_center_loss_weight");
  non_negative(c.pyannote_contrastive_margin, "--pyannote_contrastive_margin");
  non_negative(c.pyannote_triplet_margin, "--pyannote_triplet_margin");
  one_of(c.pyannote_triplet_clamp, "--pyannote_triplet_clamp", {"positive", "softmargin", "sigmoid"});
  one_of(c.pyannote_triplet_sampling, "--pyannote_triplet_sampling", {"all", "hard", "negative", "easy"});

  validate_hardneg_mode(c);
  validate_frame_losses(c);   // cpc, lim, gim (frame_loss_check.cpp)

  non_negative(c.trainfunc2_weight, "--trainfunc2_weight");
  if (c.trainfunc2.empty()) return;
  std::string names;
  for (const auto& n : loss_names()) names += (names.empty() ? "" : ", ") + n;
  PerSpeaker per_speaker{};
  require(loss_per_speaker(second_loss_name(c.trainfunc2), per_speaker), "--trainfunc2",
          "unknown loss '" + c.trainfunc2 + "' (" + names + ", or uniform)");
  // With --sampler pyannote, --per_label plays nPerSpeaker's part (crops per speaker in a batch).
  const bool chunks = c.sampler == "pyannote";
  const int64_t m = chunks ? c.per_label : c.nPerSpeaker;
  require(per_speaker_accepts(per_speaker, m), "--trainfunc2",
          c.trainfunc2 + " needs nPerSpeaker " + per_speaker_str(per_speaker) + ", but " +
              (chunks ? "--per_label" : "--nPerSpeaker") + " is " + num(double(m)) + " (for --trainfunc " +
              c.trainfunc + "): both losses see the same batch");
}

}  // namespace spk::recipe
