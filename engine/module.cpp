// Module registry, traversal and in-place device/dtype moves (see module.h for the naming rules).
#include "engine/module.h"

namespace spk {

void Module::check_new_name(const std::string& name) const {
  SPK_CHECK(!name.empty() && name.find('.') == std::string::npos, "module: bad name '", name,
            "' (names are non-empty and contain no '.')");
  auto taken = [&](const auto& list) {
    for (const auto& [n, _] : list) if (n == name) return true;
    return false;
  };
  SPK_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), "module: name '", name,
            "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name(name);
  SPK_CHECK(t.defined(), "module: parameter '", name, "' is undefined");
  SPK_CHECK(is_floating(t.dtype()), "module: parameter '", name, "' must be floating, got ", t.str());
  SPK_CHECK(t.is_leaf(), "module: parameter '", name, "' must be a leaf (detach() it first)");
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name);
  SPK_CHECK(t.defined(), "module: buffer '", name, "' is undefined");
  SPK_CHECK(!t.requires_grad(), "module: buffer '", name, "' must not require grad");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name(name);
  SPK_CHECK(m != nullptr, "module: child '", name, "' is null");
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const {
  if (params) for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  if (buffers) for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", params, buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, false, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, true, out);
  return out;
}

NamedTensors Module::state() const {
  NamedTensors out;
  collect("", true, true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& t : parameters()) n += t.numel();
  return n;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (auto& [n, c] : children_)
    for (auto& [cn, cm] : c->named_modules()) out.emplace_back(cn.empty() ? n : n + "." + cn, cm);
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (auto& t : parameters()) t.zero_grad();
}

// Replace t's storage by that of `moved` (a dense tensor of the same shape), keeping the TensorImpl, so
// every handle to t sees the new data. Autograd flags stay; the gradient is moved the same way.
static void rebind(const Tensor& t, const Tensor& moved) {
  if (moved.same(t)) return;
  TensorImpl& impl = t.impl();
  impl.storage = moved.impl().storage;
  impl.offset = moved.offset();
  impl.strides = moved.strides();
  impl.dtype = moved.dtype();
}

void Module::to(Device device) {
  for (auto& [_, t] : state()) {
    Tensor g = t.grad();
    rebind(t, t.to(device));
    if (g.defined()) t.set_grad(g.to(device));
  }
}

void Module::to(DType dtype) {
  SPK_CHECK(is_floating(dtype), "module to(", dtype_name(dtype), "): target dtype must be floating");
  for (auto& [_, t] : state()) {
    if (!is_floating(t.dtype())) continue;
    Tensor g = t.grad();
    rebind(t, t.to(dtype));
    if (g.defined()) t.set_grad(g.to(dtype));
  }
}

}  // namespace spk
