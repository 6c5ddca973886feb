// engine/cuda_graph.h where no graph can be captured (a CPU device, or this CPU-only build): capture() runs
// nothing, says why and leaves the graph empty, so the caller's eager path is the one that runs.
#include "engine/cuda.h"
#include "engine/cuda_graph.h"
#include "support/check.h"

using namespace spk;

TEST_CASE("cuda graphs: a CPU device names itself as the reason; a failed capture leaves an empty graph") {
  CHECK(cuda::graph_unsupported_reason(Device::cpu()) == "--device cpu has no CUDA graphs");
  if (cuda::built_with_cuda()) return;   // the rest is the CPU-only build's twin
  CHECK(cuda::graph_unsupported_reason(Device::parse("cuda:0")) == "this build of spk has no CUDA support");
  cuda::Graph g;
  int calls = 0;
  std::string why;
  CHECK(!g.capture([&] { ++calls; }, &why));
  CHECK(calls == 0);
  CHECK(why == "this build of spk has no CUDA support");
  CHECK(!g.captured());
  CHECK_THROWS_WITH(g.replay(), doctest::Contains("no CUDA support"));
}
