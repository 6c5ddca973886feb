// SGD / Adam / AdamW updates as engine ops, state export/import, and clip_grad_norm (see optim.h).
#include "engine/optim.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace spk {

// ------------------------------------------------------------------------------------------ optimiser

Optimizer::Optimizer(NamedTensors params, double lr) : params_(std::move(params)), lr_(lr) {
  SPK_CHECK(!params_.empty(), "optimizer: empty parameter list");
  set_lr(lr);
  std::set<std::string> seen;
  for (const auto& [n, p] : params_) {
    SPK_CHECK(seen.insert(n).second, "optimizer: parameter name '", n, "' appears twice");
    SPK_CHECK(p.defined() && p.requires_grad() && p.is_leaf(), "optimizer: parameter '", n,
              "' must be a leaf tensor that requires grad");
  }
}

void Optimizer::set_lr(double lr) {
  SPK_CHECK(std::isfinite(lr) && lr >= 0, "optimizer: invalid learning rate ", lr);
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (auto& [_, p] : params_) p.zero_grad();
}

// Whether a parameter's update can run fused: dense value, gradient and state, f32/f64 on the CPU or f32 on a
// GPU, on the device and in the dtype of the first fused one (a model lives on one device).
bool Optimizer::fusable(const Tensor& p, const Tensor& g, const ParamState& s, const Tensor& first) {
  if (!p.is_contiguous() || !g.is_contiguous() || p.device() != first.device() || p.dtype() != first.dtype())
    return false;
  if (p.device().is_cuda() ? p.dtype() != DType::f32 : !(p.dtype() == DType::f32 || p.dtype() == DType::f64))
    return false;
  for (const auto& [b, t] : s.buffers)
    if (!t.is_contiguous()) return false;
  return true;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  std::vector<Item> fused_items;
  for (auto& [n, p] : params_) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    SPK_CHECK(g.dtype() == p.dtype() && g.device() == p.device(), name(), ": gradient ", g.str(),
              " of parameter '", n, "' ", p.str(), " has another dtype or device");
    ParamState& s = state_[n];
    for (const auto& [b, t] : s.buffers)
      SPK_CHECK(t.device() == p.device() && t.dtype() == p.dtype(), name(), ": state ", b, " of '", n, "' is ",
                t.str(), " but the parameter is ", p.str(),
                " (create the optimiser after moving the module, or reload its state)");
    if (fused && fusable(p, g, s, fused_items.empty() ? p : fused_items.front().p))
      fused_items.push_back(Item{p, g, &s});
    else
      update(p, g, s);
  }
  if (!fused_items.empty() && !update_fused(fused_items))
    for (Item& it : fused_items) update(it.p, it.g, *it.s);
  ++steps_;
}

static const char* kStatePrefix = "optim.state.";

NamedTensors Optimizer::state() const {
  NamedTensors out;
  out.emplace_back("optim.step", Tensor::scalar(double(steps_), DType::i64));
  out.emplace_back("optim.lr", Tensor::scalar(lr_, DType::f64));
  for (const auto& [n, p] : params_) {
    auto it = state_.find(n);
    if (it == state_.end()) continue;
    const ParamState& s = it->second;
    std::string key = kStatePrefix + n + ".";
    if (counts_steps()) out.emplace_back(key + "step", Tensor::scalar(double(s.step), DType::i64));
    for (const auto& b : buffer_names()) {
      auto bt = s.buffers.find(b);
      if (bt != s.buffers.end()) out.emplace_back(key + b, bt->second);
    }
  }
  return out;
}

void Optimizer::load_state(const NamedTensors& tensors) {
  std::vector<std::string> errors;
  std::map<std::string, const Tensor*> by_param;   // parameter name -> its shape source
  for (const auto& [n, p] : params_) by_param[n] = &p;
  const auto wanted = buffer_names();

  std::map<std::string, ParamState> loaded;
  const Tensor* step = nullptr;
  const Tensor* lr = nullptr;
  auto scalar_ok = [&](const std::string& key, const Tensor& t) {
    if (t.numel() == 1) return true;
    errors.push_back("'" + key + "' should hold one value but is " + t.str());
    return false;
  };
  for (const auto& [key, t] : tensors) {
    if (key.rfind("optim.", 0) != 0) continue;
    if (key == "optim.step") { if (scalar_ok(key, t)) step = &t; continue; }
    if (key == "optim.lr") { if (scalar_ok(key, t)) lr = &t; continue; }
    size_t dot = key.rfind('.');
    if (key.rfind(kStatePrefix, 0) != 0 || dot < std::string(kStatePrefix).size()) {
      errors.push_back("unexpected key '" + key + "'");
      continue;
    }
    std::string pname = key.substr(std::string(kStatePrefix).size(), dot - std::string(kStatePrefix).size());
    std::string bname = key.substr(dot + 1);
    auto pit = by_param.find(pname);
    if (pit == by_param.end()) {
      errors.push_back("'" + key + "' is for '" + pname + "', which is not a parameter of this optimiser");
      continue;
    }
    const Tensor& p = *pit->second;
    if (bname == "step" && counts_steps()) {
      if (scalar_ok(key, t)) loaded[pname].step = int64_t(t.item());
      continue;
    }
    if (std::find(wanted.begin(), wanted.end(), bname) == wanted.end()) {
      errors.push_back("'" + key + "': " + name() + " has no state '" + bname + "'");
      continue;
    }
    if (t.shape() != p.shape() || !is_floating(t.dtype())) {
      errors.push_back("'" + key + "' is " + t.str() + " but parameter '" + pname + "' is " + p.str());
      continue;
    }
    Tensor copy = Tensor::empty(p.shape(), p.dtype(), p.device());
    copy.copy_(t);
    loaded[pname].buffers[bname] = copy;
  }
  if (!step) errors.push_back("missing 'optim.step'");
  if (!lr) errors.push_back("missing 'optim.lr'");
  for (const auto& [pname, s] : loaded) {
    for (const auto& b : wanted)
      if (!s.buffers.count(b)) errors.push_back("state of '" + pname + "' lacks '" + b + "'");
    if (counts_steps() && s.step <= 0) errors.push_back("state of '" + pname + "' lacks a positive 'step'");
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += "\n  " + e;
    SPK_FAIL(name(), " load_state: ", errors.size(), " problem(s):", msg);
  }
  state_ = std::move(loaded);
  steps_ = int64_t(step->item());
  set_lr(lr->item());
}

// ------------------------------------------------------------------------------------------------ SGD

SGD::SGD(NamedTensors params, double lr, SGDOptions o) : Optimizer(std::move(params), lr), opt(o) {
  SPK_CHECK(o.momentum >= 0 && o.weight_decay >= 0, "SGD: momentum ", o.momentum, " and weight_decay ",
            o.weight_decay, " must be >= 0");
  SPK_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
            "SGD: nesterov needs momentum > 0 and dampening 0");
}

std::vector<std::string> SGD::buffer_names() const {
  if (opt.momentum == 0) return {};
  return {"momentum_buffer"};
}

void SGD::update(Tensor& p, const Tensor& g, ParamState& s) {
  Tensor d = g;
  if (opt.weight_decay != 0) d = d + p * opt.weight_decay;
  if (opt.momentum != 0) {
    auto it = s.buffers.find("momentum_buffer");
    Tensor buf = it == s.buffers.end() ? d.clone() : it->second * opt.momentum + d * (1 - opt.dampening);
    s.buffers["momentum_buffer"] = buf;
    d = opt.nesterov ? d + buf * opt.momentum : buf;
  }
  p.copy_(p - d * lr());
}

// ----------------------------------------------------------------------------------------- Adam, AdamW

static void check_adam(const char* who, const AdamOptions& o) {
  SPK_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, who, ": betas (", o.beta1, ", ", o.beta2,
            ") must be in [0, 1)");
  SPK_CHECK(o.eps >= 0 && o.weight_decay >= 0, who, ": eps ", o.eps, " and weight_decay ", o.weight_decay,
            " must be >= 0");
}

Adam::Adam(NamedTensors params, double lr, AdamOptions o) : Optimizer(std::move(params), lr), opt(o) {
  check_adam("Adam", o);
}

void Adam::adam_step(Tensor& p, const Tensor& g, ParamState& s) const {
  s.step += 1;
  auto moment = [&](const char* b) {
    auto it = s.buffers.find(b);
    return it != s.buffers.end() ? it->second : Tensor::zeros(p.shape(), p.dtype(), p.device());
  };
  Tensor m = moment("exp_avg") * opt.beta1 + g * (1 - opt.beta1);
  Tensor v = moment("exp_avg_sq") * opt.beta2 + (g * g) * (1 - opt.beta2);
  s.buffers["exp_avg"] = m;
  s.buffers["exp_avg_sq"] = v;
  const double t = double(s.step);
  const double bias_correction1 = 1 - std::pow(opt.beta1, t);
  const double bias_correction2_sqrt = std::sqrt(1 - std::pow(opt.beta2, t));
  Tensor denom = sqrt(v) / bias_correction2_sqrt + opt.eps;   // eps outside the sqrt, as torch
  p.copy_(p - (m / denom) * (lr() / bias_correction1));
}

void Adam::update(Tensor& p, const Tensor& g, ParamState& s) {
  adam_step(p, opt.weight_decay != 0 ? g + p * opt.weight_decay : g, s);
}

AdamW::AdamW(NamedTensors params, double lr, AdamOptions o) : Adam(std::move(params), lr, o) {}

void AdamW::update(Tensor& p, const Tensor& g, ParamState& s) {
  if (opt.weight_decay != 0) p.copy_(p * (1 - lr() * opt.weight_decay));
  adam_step(p, g, s);
}

// ------------------------------------------------------------------------------------------- clipping

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  NoGradGuard no_grad;
  Tensor acc;   // sum of squares, on the gradients' device: one host sync for the whole set
  for (const auto& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor sq = sum(g * g);
    acc = !acc.defined() ? sq : acc + (sq.dtype() == acc.dtype() ? sq : sq.to(acc.dtype()));
  }
  if (!acc.defined()) return 0.0;
  const double total = std::sqrt(acc.item());
  const double coef = max_norm / (total + 1e-6);
  if (!(coef >= 1.0)) {   // also when total is NaN, which then reaches the gradients as in PyTorch
    for (const auto& p : params)
      if (p.grad().defined()) p.set_grad(p.grad() * coef);
  }
  return total;
}

}  // namespace spk
