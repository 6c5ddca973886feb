// The recipe side of wespeaker's ResNet family and the HardNeg seed's nets (nets/wespeaker_resnet.h,
// nets/ecapa_tdnn.h): --frontend auto picks each reference's front end, and an unset --encoder_type picks the
// model's own pooling (not voxceleb_trainer's SAP default). No model is built here (ResNet293 is 28.6 M weights).
#include <string>
#include <vector>

#include "apps/recipe/config.h"
#include "apps/recipe/frontend.h"
#include "nets/model.h"
#include "support/check.h"

using namespace spk;
using namespace spk::recipe;

namespace {
RecipeConfig config_for(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"spk_train"};
  for (const auto& a : args) argv.push_back(a.c_str());
  OptionParser p("spk_train", "", TRAIN);
  REQUIRE(p.parse(int(argv.size()), argv.data()));
  return recipe_config(p);
}
}  // namespace

TEST_CASE("wespeaker ResNets and HardNeg nets: front end and default pooling") {
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"ResNet18", "wespeaker"},  {"ResNet50", "wespeaker"},          {"ResNet101", "wespeaker"},
      {"ResNet152", "wespeaker"}, {"ResNet221", "wespeaker"},         {"ResNet293", "wespeaker"},
      {"ResNet34", "wespeaker"},  {"ECAPA_TDNN_HardNeg", "ecapa"},    {"ResNet18_HardNeg", "ecapa"},
      {"ResNet34_HardNeg", "ecapa"}};
  for (const auto& [model, frontend] : expected) {
    CAPTURE(model);
    bool known = false;
    for (const auto& n : model_names()) known |= n == model;
    CHECK(known);
    const RecipeConfig c = config_for({"--model", model, "--n_mels", "80"});
    CHECK(frontend_name(c) == frontend);
    CHECK(c.encoder_type.empty());
    CHECK(config_for({"--model", model, "--encoder_type", "ASTP"}).encoder_type == "ASTP");   // a set flag stays
  }
}
