// CUDA builds: capture and replay of engine/cuda_graph.h. Compiled with the CUDA toolkit; never yet run on a GPU.
//
// Capture is thread-local (cudaStreamCaptureModeThreadLocal): the loader threads, which only touch host memory,
// may go on calling the runtime. A failed capture leaves the stream out of capture mode and clears the runtime's
// error, so the eager step that follows runs as if nothing had been tried.
#include <cuda_runtime.h>

#include "engine/check.h"
#include "engine/cuda.h"
#include "engine/cuda_check.h"
#include "engine/cuda_graph.h"

namespace spk::cuda {

std::string graph_unsupported_reason(const Device& d) {
  if (d.is_cpu()) return "--device " + d.str() + " has no CUDA graphs";
  if (!available()) return "no usable GPU";
  return "";
}

Graph::~Graph() {
  // Never destroyed through the runtime at static destruction time (engine/cuda_cuda.cpp says why); a Graph is
  // owned by a trainer, which ends before that.
  if (exec_) cudaGraphExecDestroy(cudaGraphExec_t(exec_));
  if (graph_) cudaGraphDestroy(cudaGraph_t(graph_));
}

bool Graph::capture(const std::function<void()>& fn, std::string* why) {
  SPK_CHECK(!graph_ && !exec_, "cuda::Graph::capture: already captured");
  cudaStream_t stream = cudaStream_t(current_stream());
  std::string failure;
  cudaError_t e = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  if (e != cudaSuccess) {
    if (why) *why = std::string("cudaStreamBeginCapture: ") + cudaGetErrorString(e);
    cudaGetLastError();
    return false;
  }
  try {
    fn();
  } catch (const std::exception& ex) {
    failure = ex.what();
  }
  cudaGraph_t graph = nullptr;
  e = cudaStreamEndCapture(stream, &graph);   // ends capture mode even when the capture was invalidated
  if (failure.empty() && e != cudaSuccess) failure = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(e);
  cudaGraphExec_t exec = nullptr;
  if (failure.empty()) {
    e = cudaGraphInstantiate(&exec, graph, 0);
    if (e != cudaSuccess) failure = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(e);
  }
  if (!failure.empty()) {
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();   // the capture's error must not surface in the eager step's next check
    if (why) *why = failure;
    return false;
  }
  graph_ = graph;
  exec_ = exec;
  return true;
}

void Graph::replay() {
  SPK_CHECK(exec_, "cuda::Graph::replay: nothing captured");
  SPK_CUDA_CHECK(cudaGraphLaunch(cudaGraphExec_t(exec_), cudaStream_t(current_stream())));
}

}  // namespace spk::cuda
