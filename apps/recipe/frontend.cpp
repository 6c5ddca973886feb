// Model -> front end (see frontend.h).
#include "apps/recipe/frontend.h"

#include <map>

#include "engine/audio/fbank.h"

namespace spk::recipe {

std::string frontend_name(const RecipeConfig& c) {
  if (c.frontend != "auto") {
    for (const auto& n : fbank_preset_names())
      if (n == c.frontend) return n;
    std::string names;
    for (const auto& n : fbank_preset_names()) names += " " + n;
    throw UsageError("--frontend: unknown preset '" + c.frontend + "' (auto," + names + ")");
  }
  static const std::map<std::string, std::string> by_model = {
      {"ResNetSE34L", "resnetse34l"}, {"ResNetSE34V2", "resnetse34v2"}, {"VGGVox", "vggvox"},
      {"ECAPA_TDNN", "ecapa"},        {"ResNet34", "wespeaker"},        {"TDNN", "wespeaker"}};
  auto it = by_model.find(c.model);
  if (it == by_model.end())
    throw UsageError("--model: unknown model '" + c.model + "' (ResNetSE34L, ResNetSE34V2, VGGVox, ECAPA_TDNN, "
                     "ResNet34, TDNN)");
  return it->second;
}

FbankConfig frontend_config(const RecipeConfig& c) {
  const std::string name = frontend_name(c);
  FbankConfig fb = fbank_preset(name);
  if (c.n_mels < 1) throw UsageError("--n_mels: must be at least 1, got " + std::to_string(c.n_mels));
  fb.n_mels = int(c.n_mels);
  if (name == "resnetse34l" || name == "resnetse34v2" || name == "vggvox") fb.log = c.log_input;
  const std::string err = fbank_config_error(fb);
  if (!err.empty()) throw UsageError("--n_mels " + std::to_string(c.n_mels) + " with front end " + name + ": " + err);
  return fb;
}

}  // namespace spk::recipe
