// The front end a recipe's model uses (docs/models.md, "The front end is outside the model"): the fbank
// preset of the model's reference implementation, with the recipe's --n_mels and --log_input.
#pragma once
#include "apps/recipe/config.h"
#include "engine/audio/fbank.h"

namespace spk::recipe {

// --frontend auto picks by --model: ResNetSE34L -> resnetse34l, ResNetSE34V2 -> resnetse34v2, VGGVox -> vggvox,
// ECAPA_TDNN -> ecapa, ResNet34 and TDNN -> wespeaker. n_mels always comes from --n_mels; --log_input switches
// the log of the voxceleb_trainer presets (resnetse34l, resnetse34v2, vggvox: their models take log only with
// --log_input); the other presets always take the log, as their references do. Throws UsageError naming
// --frontend / --model for unknown names.
FbankConfig frontend_config(const RecipeConfig& c);
// The preset name frontend_config resolves to (for logs).
std::string frontend_name(const RecipeConfig& c);

}  // namespace spk::recipe
