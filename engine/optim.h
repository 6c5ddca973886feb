// Optimisers (SGD, Adam, AdamW) with torch.optim's update rules, and gradient-norm clipping.
//
// An optimiser holds named parameters (usually module.named_parameters(), with the loss's parameters
// appended under their own prefix) and one learning rate that a schedule sets before each step
// (engine/schedule.h). There are no param groups. step() skips parameters without a gradient, as PyTorch.
//
// The update runs as engine ops under NoGradGuard and is copied into the parameter with copy_(), so it
// works on any device and dtype the ops support (f32/f64 on the CPU, f32 on a GPU). State tensors
// (momentum_buffer, exp_avg, exp_avg_sq) are created on the first step that sees a parameter's gradient,
// on the parameter's device and dtype: move the module before that first step (engine/module.h).
//
// Checkpoints: state() exports everything as named tensors, load_state() restores it:
//   optim.step                          i64 ()  number of step() calls
//   optim.lr                            f64 ()  learning rate at export
//   optim.state.<param>.step            i64 ()  Adam/AdamW: steps this parameter took (its bias correction)
//   optim.state.<param>.exp_avg         Adam/AdamW first moment, the parameter's shape and dtype
//   optim.state.<param>.exp_avg_sq      Adam/AdamW second moment
//   optim.state.<param>.momentum_buffer SGD with momentum
// A parameter that never had a gradient has no entries (as in PyTorch's state_dict).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/module.h"

namespace spk {

class Optimizer {
 public:
  Optimizer(NamedTensors params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void step();                   // one update of every parameter that has a gradient
  // Multi-tensor update (kernels/optim/optim.h): one pass over all parameters (CPU) or one launch (CUDA)
  // instead of a dozen engine ops per parameter; bit-identical to the per-parameter reference path, which
  // fused = false selects (the tests compare the two). State buffers are then updated in place.
  bool fused = true;
  void zero_grad();              // drop the gradients (set_to_none)
  double lr() const { return lr_; }
  void set_lr(double lr);
  int64_t steps() const { return steps_; }
  const NamedTensors& params() const { return params_; }

  NamedTensors state() const;
  // Restores what state() exported. Keys that do not start with "optim." are ignored (a checkpoint holds the
  // model too). Every problem (unknown parameter or buffer, missing buffer, wrong shape) is reported in one
  // error, and nothing is changed unless all entries are valid. Values are copied to each parameter's
  // device and dtype.
  void load_state(const NamedTensors& tensors);

  // Per-parameter state: named buffers plus a step count (Adam's bias correction).
  struct ParamState {
    std::map<std::string, Tensor> buffers;
    int64_t step = 0;
  };
  // One parameter of a fused step (engine/optim_fused.cpp): all dense, on one device, in one dtype.
  struct Item {
    Tensor p, g;
    ParamState* s = nullptr;
  };

 protected:
  // Update p (a leaf; write with copy_) from its gradient g and its state s. Runs under NoGradGuard.
  // The reference path: engine ops, one parameter at a time.
  virtual void update(Tensor& p, const Tensor& g, ParamState& s) = 0;
  // The fused step of `items`; returns false when this optimiser has none (then update() runs per item).
  virtual bool update_fused(std::vector<Item>& items) { return false; }
  virtual std::vector<std::string> buffer_names() const = 0;   // the buffers a complete state has
  virtual bool counts_steps() const = 0;                       // whether .step is part of the state
  virtual const char* name() const = 0;

 private:
  static bool fusable(const Tensor& p, const Tensor& g, const ParamState& s, const Tensor& first);

  NamedTensors params_;
  std::map<std::string, ParamState> state_;   // by parameter name
  double lr_;
  int64_t steps_ = 0;
};

struct SGDOptions {
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;   // L2: g += weight_decay·p
  bool nesterov = false;
};

// torch.optim.SGD: g += wd·p; b = g (first step) or momentum·b + (1 - dampening)·g;
// g = g + momentum·b (nesterov) or b; p -= lr·g.
class SGD : public Optimizer {
 public:
  SGD(NamedTensors params, double lr, SGDOptions options = {});
  SGDOptions opt;

 protected:
  void update(Tensor& p, const Tensor& g, ParamState& s) override;
  bool update_fused(std::vector<Item>& items) override;
  std::vector<std::string> buffer_names() const override;
  bool counts_steps() const override { return false; }
  const char* name() const override { return "SGD"; }
};

struct AdamOptions {
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;   // Adam: L2 added to the gradient; AdamW: decoupled decay of the weights
};

// torch.optim.Adam: g += wd·p; t += 1; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
// p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps).
class Adam : public Optimizer {
 public:
  Adam(NamedTensors params, double lr, AdamOptions options = {});
  AdamOptions opt;

 protected:
  void update(Tensor& p, const Tensor& g, ParamState& s) override;
  bool update_fused(std::vector<Item>& items) override;
  virtual bool decoupled() const { return false; }   // AdamW
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  bool counts_steps() const override { return true; }
  const char* name() const override { return "Adam"; }
  // The moment update and parameter step shared with AdamW; g already includes any L2 term.
  void adam_step(Tensor& p, const Tensor& g, ParamState& s) const;
};

// torch.optim.AdamW: p *= 1 - lr·wd, then Adam's step without the L2 term. Default weight_decay 0.01.
class AdamW : public Adam {
 public:
  AdamW(NamedTensors params, double lr, AdamOptions options = {.weight_decay = 0.01});

 protected:
  void update(Tensor& p, const Tensor& g, ParamState& s) override;
  bool decoupled() const override { return true; }
  const char* name() const override { return "AdamW"; }
};

// torch.nn.utils.clip_grad_norm_ (2-norm): total = ||all gradients as one vector||; when
// max_norm / (total + 1e-6) < 1 every gradient is replaced (set_grad) by itself times that factor, i.e. torch's
// clamp(coef, max=1). Returns total (before clipping). Parameters without a gradient are skipped; a NaN/Inf
// total propagates into the gradients, as PyTorch's default (error_if_nonfinite=False).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace spk
