// What a recipe's options build: the model's and the loss's configuration (one mapping for spk_train, spk_eval
// and the tests), and the common main() of the apps.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "apps/recipe/config.h"
#include "losses/loss.h"
#include "nets/model.h"

namespace spk::recipe {

ModelConfig model_config(const RecipeConfig& c);   // --n_mels --nOut --encoder_type --C --seed
// --nOut --nClasses --nPerSpeaker --margin --scale --hard_* --seed and every losses/loss_settings.def flag
LossConfig loss_config(const RecipeConfig& c);

// The paths that are not regular files, in order (listed files are checked before any work starts).
std::vector<std::string> missing_files(const std::vector<std::string>& paths);

// An app's main(): runs body; a UsageError prints "<app>: error: <message>" and returns 2, any other exception
// the same with status 1.
int run_app(const char* app, const std::function<int()>& body);

}  // namespace spk::recipe
