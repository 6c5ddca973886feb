// CPU-only build: CUDA graphs are never possible (engine/cuda_graph.h).
#include "engine/check.h"
#include "engine/cuda_graph.h"

namespace spk::cuda {

std::string graph_unsupported_reason(const Device& d) {
  if (d.is_cpu()) return "--device " + d.str() + " has no CUDA graphs";
  return "this build of spk has no CUDA support";
}

Graph::~Graph() = default;

bool Graph::capture(const std::function<void()>&, std::string* why) {
  if (why) *why = "this build of spk has no CUDA support";
  return false;
}

void Graph::replay() { SPK_FAIL("cuda::Graph::replay: this build of spk has no CUDA support"); }

}  // namespace spk::cuda
