// CUDA graphs (issue 17, --cuda_graph): capture the work a function enqueues on the current stream, then replay
// it with one launch. Implementation: engine/cuda_graph_cuda.cpp (compiled with the CUDA toolkit, never yet run on
// a GPU); engine/cuda_graph_nocuda.cpp, the CPU-only twin, reports that capture is impossible.
//
// What a replay repeats is exactly the captured kernels with their captured arguments and addresses: host values
// passed to kernels (a learning rate, a step count, an RNG offset) are frozen at capture, every buffer the graph
// touches must stay allocated and unaliased between replays, and the inputs must be copied into the captured
// input buffers before each replay. A host sync inside the function (a device-to-host copy, cudaStreamSynchronize,
// a cudaMalloc of the allocator) makes the capture fail: capture() then reports why and the caller runs eagerly.
#pragma once
#include <functional>
#include <string>

#include "engine/device.h"

namespace spk::cuda {

// "" when a graph can be captured on device d; else why not (no CUDA in this build, a CPU device, no GPU).
std::string graph_unsupported_reason(const Device& d);

class Graph {
 public:
  Graph() = default;
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Captures what fn enqueues on the current stream (the work is recorded, not run) and instantiates it. On
  // failure (fn synchronised with the host, or threw) the partial capture is dropped, *why says what failed and
  // false is returned; the graph stays empty.
  bool capture(const std::function<void()>& fn, std::string* why);
  void replay();   // launches the captured graph on the current stream; throws when empty
  bool captured() const { return exec_ != nullptr; }

 private:
  void* graph_ = nullptr;   // cudaGraph_t
  void* exec_ = nullptr;    // cudaGraphExec_t
};

}  // namespace spk::cuda
