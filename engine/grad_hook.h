// The gradient-ready hook of Tensor::backward (implemented in engine/autograd.cpp).
#pragma once
#include <functional>

#include "engine/tensor.h"

namespace spk {

// Gradient-ready hook (PyTorch DDP's per-parameter autograd hook, for bucketed all-reduces that overlap the
// backward pass: engine/dist/grad_buckets.h). While a LeafGradHookScope is alive on this thread, Tensor::backward
// calls the hook once for every leaf that requires grad and is an input of a node of the graph, as soon as backward
// has processed the last of those nodes (its .grad() is then final for the pass; undefined where no gradient came
// and none was there before). Leaves no node takes are not reported. Without a scope backward does no extra work.
using LeafGradHook = std::function<void(const Tensor& leaf)>;
class LeafGradHookScope {
 public:
  explicit LeafGradHookScope(LeafGradHook hook);
  ~LeafGradHookScope();
  LeafGradHookScope(const LeafGradHookScope&) = delete;
  LeafGradHookScope& operator=(const LeafGradHookScope&) = delete;
 private:
  LeafGradHook prev_;
};

}  // namespace spk
