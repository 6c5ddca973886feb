// The front end a recipe's model uses (docs/models.md, "The front end is outside the model"): the fbank
// preset of the model's reference implementation, with the recipe's --n_mels and --log_input, or an MFCC preset
// (docs/frontend.md, "MFCC") whose cepstra feed the model in place of the mels, or the waveform itself
// (docs/frontend.md, "Waveform"): models that learn their front end (SincNet, RawNet3) get (B, 1, L).
#pragma once
#include <string>

#include "apps/recipe/config.h"
#include "engine/audio/fbank.h"
#include "engine/audio/mfcc.h"
#include "engine/tensor.h"

namespace spk::recipe {

// Which features the model gets: log-mel filterbanks (fbank) or MFCC. `fbank` is the fbank itself, or the
// MFCC's log-mel stage (its sample rate and framing are the features', so the length checks read it either way).
struct FrontEnd {
  FbankConfig fbank;
  bool is_mfcc = false;
  MfccConfig mfcc;           // is_mfcc only
  bool is_waveform = false;  // the model reads (B, 1, L) samples; `fbank` only carries the sample rate and the
                             // default framing the length checks use

  FrontEnd() = default;
  FrontEnd(const FbankConfig& fb) : fbank(fb) {}   // NOLINT: implicit, a plain fbank front end
  explicit FrontEnd(const MfccConfig& m) : fbank(m.fbank), is_mfcc(true), mfcc(m) {}

  static FrontEnd waveform(double sample_rate);

  // Feature rows the model takes: 1 for the waveform (ModelConfig::n_mels = 1 is the waveform contract, nets/model.h).
  int64_t width() const { return is_waveform ? 1 : is_mfcc ? mfcc.n_ceps : fbank.n_mels; }
  std::string error() const;                                              // "" when valid
  std::string str() const;                                                // every field, for logs
  Tensor features(const Tensor& wav) const;   // wav (B, L) -> (B, width(), T) on wav's device; waveform: (B, 1, L)
};

// The MFCC names --frontend accepts: an MFCC preset's name + "_mfcc" (kaldi_mfcc, kaldi_voxceleb_mfcc).
std::vector<std::string> mfcc_frontend_names();

// --frontend auto picks by --model: ResNetSE34L -> resnetse34l, ResNetSE34V2 -> resnetse34v2, VGGVox -> vggvox,
// ECAPA_TDNN -> ecapa, ResNet34 and TDNN -> wespeaker, the waveform models (waveform_models()) -> waveform.
// For an fbank, n_mels always comes from --n_mels;
// --log_input switches the log of the voxceleb_trainer presets (resnetse34l, resnetse34v2, vggvox: their models
// take log only with --log_input); the other presets always take the log, as their references do. For an MFCC
// preset, --n_ceps (0 = the preset's) sets the cepstra, which must equal --n_mels (the model's input width); the
// preset's mel bins stay, and the cepstra get per-utterance mean normalisation (CMN). Throws UsageError naming
// --frontend / --model / --n_mels / --n_ceps for bad values. --frontend waveform: the 16 kHz samples themselves,
// (B, 1, L); --n_mels is not read (the model gets ModelConfig::n_mels = 1, model_config()), --n_ceps must be 0.
FrontEnd frontend_config(const RecipeConfig& c);

// The --model names whose networks read the waveform (nets/model.h: n_mels = 1); --frontend auto picks
// `waveform` for them, and only they accept it.
const std::vector<std::string>& waveform_models();
// The preset name frontend_config resolves to (for logs).
std::string frontend_name(const RecipeConfig& c);

}  // namespace spk::recipe
