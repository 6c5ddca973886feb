// --cuda_graph (apps/recipe/cuda_graph_step.h).
#include "apps/recipe/cuda_graph_step.h"

#include "engine/cuda_graph.h"

namespace spk::recipe {

namespace {

// Why the step's shapes can change between steps, or "".
std::string variable_shapes(const RecipeConfig& cfg) {
  if (cfg.sampler == "pyannote") return "--sampler pyannote draws a chunk length for every batch";
  if (cfg.skip_bad_files) return "--skip_bad_files shrinks a batch that holds unreadable files";
  return "";
}

// What the engine's training step does that a captured graph could not repeat (cuda_graph_step.h).
constexpr const char* kStepBlockers =
    "the training step reads its loss and gradient check back to the host before the optimiser step (an op that "
    "syncs) and hands its kernels the learning rate, the optimiser's step count and the RNG offsets as host values, "
    "which a capture would freeze";

}  // namespace

std::string cuda_graph_fallback(const RecipeConfig& cfg, const Device& device) {
  if (!cfg.cuda_graph) return "";
  std::string why = cuda::graph_unsupported_reason(device);
  if (why.empty()) why = variable_shapes(cfg);
  if (why.empty() && cfg.distributed) why = "--distributed all-reduces the step's loss and metric as host values";
  if (why.empty()) why = kStepBlockers;
  return "--cuda_graph: not captured, the step runs eagerly (the same results as without the flag): " + why;
}

}  // namespace spk::recipe
