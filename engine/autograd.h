// Reverse-mode autograd: a closure tape (flashlight's gradFunc design).
//
// An op computes its output under no autograd, then record() attaches a Node holding the op name, the input
// tensors and a backward closure mapping the output gradient to one gradient per input (undefined Tensor
// for inputs that get none). Closures save what they need as detach()ed tensors: a node must never hold
// its own output with history, or the graph would keep itself alive.
//
// Tensor::backward() topologically sorts the nodes reachable from the root, runs each closure once under
// no_grad, sums gradients that fan in, and accumulates (+=) into leaves that require grad.
#pragma once
#include <functional>
#include <vector>

#include "engine/tensor.h"

namespace spk {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_out)>;

struct Node {
  const char* op;                 // for error messages: "conv2d backward: ..."
  std::vector<Tensor> inputs;     // the op's tensor inputs, in order
  BackwardFn backward;
};

bool grad_enabled();
void set_grad_enabled(bool on);

// RAII scope with gradient recording off (evaluation, optimiser steps, backward closures).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;
 private:
  bool prev_;
};

// True when an op on these inputs should be recorded.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attach a tape node to out if needs_grad(inputs); returns out either way.
Tensor record(const char* op, Tensor out, std::vector<Tensor> inputs, BackwardFn backward);

// Reduce a broadcast gradient back to the shape of the input it came from (sum over broadcast dims).
Tensor sum_to_shape(const Tensor& grad, const Shape& shape);

}  // namespace spk
