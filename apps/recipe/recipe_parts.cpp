// Recipe options -> model and loss configurations; the apps' main() (see recipe_parts.h).
#include "apps/recipe/recipe_parts.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "apps/recipe/frontend.h"

namespace spk::recipe {

ModelConfig model_config(const RecipeConfig& c) {
  ModelConfig mc;
  // A waveform model (apps/recipe/frontend.h waveform_models()) gets n_mels = 1, the waveform contract of
  // nets/model.h; --n_mels is a filterbank setting it does not read.
  const auto& wave = waveform_models();
  mc.n_mels = std::find(wave.begin(), wave.end(), c.model) != wave.end() ? 1 : c.n_mels;
  mc.nOut = c.nOut;
  mc.encoder_type = c.encoder_type;
  mc.C = c.C;
  mc.sinc_stride = c.sinc_stride;
  mc.seed = uint64_t(c.seed);
  return mc;
}

LossConfig loss_config(const RecipeConfig& c) {
  LossConfig lc;
  lc.nOut = c.nOut;
  lc.nClasses = c.nClasses;
  lc.nPerSpeaker = c.nPerSpeaker;
  lc.margin = c.margin;
  lc.scale = c.scale;
  lc.hard_rank = c.hard_rank;
  lc.hard_prob = c.hard_prob;
  lc.seed = uint64_t(c.seed);
  // Every row of losses/loss_settings.def: the flag and the member share the name.
#define SPK_LOSS_SETTING(name, kind, def, losses, help) lc.name = c.name;
#include "losses/loss_settings.def"
#undef SPK_LOSS_SETTING
  return lc;
}

std::vector<std::string> missing_files(const std::vector<std::string>& paths) {
  std::vector<std::string> missing;
  std::error_code ec;
  for (const auto& p : paths)
    if (!std::filesystem::is_regular_file(p, ec)) missing.push_back(p);
  return missing;
}

int run_app(const char* app, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: error: %s\n", app, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", app, e.what());
    return 1;
  }
}

}  // namespace spk::recipe
