// apply_cpu_conv_flag (see cpu_conv_flag.h).
#include "apps/recipe/cpu_conv_flag.h"

#include "apps/recipe/config.h"
#include "engine/conv_context.h"

namespace spk::recipe {

void apply_cpu_conv_flag(const std::string& value) {
  try {
    set_conv_cpu_backend(value.c_str());
  } catch (const UsageError&) {
    throw;
  } catch (const spk::Error& e) {
    throw UsageError("--cpu_conv: " + std::string(e.what()));
  }
}

}  // namespace spk::recipe
