// Module: the base of every layer, net and loss that owns tensors (flashlight / torch.nn.Module style).
//
// A module registers, in its constructor and in this order:
//   parameters  leaf tensors that require grad (weights the optimiser updates)
//   buffers     state without grad (BatchNorm running_mean / running_var / num_batches_tracked)
//   children    sub-modules, owned by shared_ptr
// Names are stable and follow PyTorch's state_dict: a module's own parameters, then its own buffers, then
// each child in registration order, recursively, with dotted paths ("layer1.0.conv1.weight"). That is the
// order of state(); named_parameters() / named_buffers() keep the same pre-order with the other kind
// left out. There is no virtual forward: layers take different inputs (x; x and labels; ...), so each
// defines its own forward(), and a model calls its children's forwards directly.
//
// Devices: to(device) moves every parameter and buffer *in place*: the TensorImpl stays the same object
// and only its storage is replaced, so the Tensor handles held by a subclass, by the registry and by an
// optimiser all see the move. Optimiser state (momentum, exp_avg, ...) is NOT moved: create the optimiser
// after moving the module, or at least before its first step (state is created lazily on the first step,
// on the parameter's device); a step that finds state on another device than its parameter throws. Do not
// move a module while an autograd graph that uses its parameters is still alive.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace spk {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // A module's registry holds handles to its own members: a copy would alias them silently.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- traversal (all recursive, stable registration order) ----
  std::vector<Tensor> parameters() const;
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  NamedTensors state() const;     // parameters and buffers interleaved per module, as PyTorch's state_dict
  // (name, child) for this module's direct children; named_modules() is pre-order and starts with ("", this).
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  std::vector<std::pair<std::string, Module*>> named_modules();
  int64_t num_parameters() const;   // total number of parameter elements

  // ---- mode ----
  void train(bool on = true);     // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- gradients and devices ----
  void zero_grad();               // drops every parameter's .grad (PyTorch's set_to_none=True)
  void to(Device device);         // in place, see the file comment
  void to(DType dtype);           // floating parameters and buffers only (integer buffers keep their dtype)

 protected:
  // Register in the subclass constructor. Names are non-empty, contain no '.', and are unique within the
  // module across parameters, buffers and children. register_parameter marks t as requiring grad and
  // returns it (the same handle), so `weight = register_parameter("weight", Tensor::empty(...))` works.
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

 private:
  void check_new_name(const std::string& name) const;
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;

  bool training_ = true;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A list of sub-modules named "0", "1", ... (torch.nn.ModuleList), for stacks of blocks: "layer1.0.conv1".
class ModuleList : public Module {
 public:
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    return register_module(std::to_string(children().size()), std::move(m));
  }
  size_t size() const { return children().size(); }
  Module& operator[](size_t i) const { return *children().at(i).second; }
  // Typed access: throws when child i is not an M.
  template <class M>
  M& at(size_t i) const {
    auto* p = dynamic_cast<M*>(children().at(i).second.get());
    SPK_CHECK(p != nullptr, "ModuleList::at: child ", i, " has another type");
    return *p;
  }
};

// Puts a module in eval mode and restores its previous mode on scope exit (also on error).
class EvalModeGuard {
 public:
  explicit EvalModeGuard(Module& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalModeGuard() { m_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  Module& m_;
  bool was_training_;
};

}  // namespace spk
