// Fuzz target: a --config YAML file as spk_train and spk_eval read it (apps/recipe/config.h): parsing, every
// value's conversion, the typed recipe config, and the effective config written back as YAML and read again.
#include "apps/recipe/config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spk;
  const std::string path = fuzz::write_file("config.yaml", {reinterpret_cast<const char*>(data), size});
  for (const auto& app_mask : {std::pair{"spk_train", recipe::TRAIN}, std::pair{"spk_eval", recipe::EVAL}}) {
    const char* app = app_mask.first;   // not a structured binding: clang 14 cannot capture one
    const recipe::AppMask mask = app_mask.second;
    fuzz::run_expecting_spk_errors(path, [&] {
      recipe::OptionParser p(app, "fuzz", mask);
      const char* argv[] = {app, "--config", path.c_str()};
      if (!p.parse(3, argv)) fuzz::finding("--help from a config file");
      recipe::recipe_config(p);
      p.values();
      // What a run writes as its effective config must load again with the same values.
      const std::string again = fuzz::write_file("config_again.yaml", p.to_yaml());
      recipe::OptionParser q(app, "fuzz", mask);
      const char* argv2[] = {app, "--config", again.c_str()};
      try {
        q.parse(3, argv2);
      } catch (const Error& e) {
        fuzz::finding(std::string("the effective config does not load again: ") + e.what());
      }
      if (q.values() != p.values()) fuzz::finding("the effective config loads with other values");
    });
  }
  return 0;
}
