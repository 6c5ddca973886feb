// apply_cpu_conv_flag (see cpu_conv_flag.h).
#include "apps/recipe/cpu_conv_flag.h"

#include "apps/recipe/config.h"
#include "engine/conv_context.h"   // set_conv_cpu_backend, conv_dnnl_built (kernels/conv/conv.h)

namespace spk::recipe {

void apply_cpu_conv_flag(const std::string& value) {
  if (value != "auto" && value != "spk" && value != "dnnl")
    throw UsageError("--cpu_conv: unknown backend '" + value + "' (auto, spk or dnnl)");
  if (value == "dnnl" && !conv_dnnl_built())
    throw UsageError("--cpu_conv: dnnl, but this build of spk has no oneDNN (install libdnnl-dev and rebuild, or "
                     "use auto or spk)");
  set_conv_cpu_backend(value.c_str());
}

}  // namespace spk::recipe
