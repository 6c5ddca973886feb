#include "engine/autograd.h"
#include "engine/grad_hook.h"

#include <unordered_map>
#include <unordered_set>

#include "engine/ops.h"

namespace spk {

namespace {
thread_local bool t_grad_enabled = true;
thread_local LeafGradHook t_leaf_grad_hook;
}

LeafGradHookScope::LeafGradHookScope(LeafGradHook hook) : prev_(std::move(t_leaf_grad_hook)) {
  t_leaf_grad_hook = std::move(hook);
}
LeafGradHookScope::~LeafGradHookScope() { t_leaf_grad_hook = std::move(prev_); }

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool on) { t_grad_enabled = on; }

static bool tracks(const Tensor& t) { return t.defined() && (t.requires_grad() || !t.is_leaf()); }

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!grad_enabled()) return false;
  for (const auto& t : inputs) if (tracks(t)) return true;
  return false;
}
bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return false;
  for (const auto& t : inputs) if (tracks(t)) return true;
  return false;
}

Tensor record(const char* op, Tensor out, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return out;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl().grad_fn = std::move(node);
  return out;
}

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int64_t nd = g.dim(), ns = int64_t(shape.size());
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < nd; ++i) {
    int64_t j = i - (nd - ns);   // aligned dim of the target shape, right-justified
    if (j < 0 || (shape[size_t(j)] == 1 && g.shape()[size_t(i)] != 1)) dims.push_back(i);
  }
  Tensor r = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
  return reshape(r, shape);
}

// Sum a gradient into a slot. Leaf slots get their own dense buffer, because a backward closure may
// return its incoming gradient itself (add, reshape) and optimisers update .grad() in place.
static void accumulate(std::shared_ptr<TensorImpl>& slot, const Tensor& g, bool own) {
  if (slot) slot = add(Tensor(slot), g).impl_ptr();
  else slot = (own ? g.clone() : g).impl_ptr();
}

void Tensor::backward(const Tensor& grad) const {
  SPK_CHECK(requires_grad() || !is_leaf(), "backward: tensor ", str(), " does not require grad");
  Tensor seed = grad;
  if (!seed.defined()) {
    SPK_CHECK(numel() == 1, "backward: gradient must be given for non-scalar tensor ", str());
    seed = Tensor::ones(shape(), dtype(), device());
  }
  SPK_CHECK(seed.shape() == shape(), "backward: gradient ", seed.str(), " for tensor ", str());

  // Topological order of the impls reachable through grad_fn (iterative DFS: deep nets overflow recursion).
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<TensorImpl*, size_t>> stack{{impl_ptr().get(), 0}};
  seen.insert(impl_ptr().get());
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    Node* n = t->grad_fn.get();
    if (n && next < n->inputs.size()) {
      const Tensor& in = n->inputs[next++];
      if (in.defined() && in.impl().grad_fn && seen.insert(in.impl_ptr().get()).second) stack.push_back({in.impl_ptr().get(), 0});
      continue;
    }
    order.push_back(t);
    stack.pop_back();
  }

  NoGradGuard no_grad;
  const LeafGradHook& hook = t_leaf_grad_hook;
  std::unordered_map<TensorImpl*, std::shared_ptr<TensorImpl>> grads;
  if (is_leaf()) {
    accumulate(impl().grad, seed, true);
    if (hook) hook(*this);
    return;
  }
  // With a hook: how many node inputs still to be processed name each leaf; at zero its gradient is final.
  std::unordered_map<TensorImpl*, int> pending;
  auto leaf_inputs = [](TensorImpl* t, auto&& f) {
    for (const Tensor& in : t->grad_fn->inputs)
      if (in.defined() && !in.impl().grad_fn && in.requires_grad()) f(in);
  };
  if (hook)
    for (TensorImpl* t : order) leaf_inputs(t, [&](const Tensor& in) { ++pending[in.impl_ptr().get()]; });
  auto release = [&](TensorImpl* t) {
    if (hook) leaf_inputs(t, [&](const Tensor& in) { if (--pending[in.impl_ptr().get()] == 0) hook(in); });
  };
  grads[impl_ptr().get()] = seed.impl_ptr();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = *it;
    auto g_it = grads.find(t);
    if (g_it == grads.end()) {                     // no gradient flows here
      release(t);
      continue;
    }
    Tensor g(g_it->second);
    grads.erase(g_it);                             // free as we go
    Node* n = t->grad_fn.get();
    std::vector<Tensor> gin = n->backward(g);
    SPK_CHECK(gin.size() == n->inputs.size(), n->op, " backward: returned ", gin.size(), " gradients for ",
              n->inputs.size(), " inputs");
    for (size_t i = 0; i < gin.size(); ++i) {
      const Tensor& in = n->inputs[i];
      if (!gin[i].defined() || !in.defined()) continue;
      SPK_CHECK(gin[i].shape() == in.shape(), n->op, " backward: gradient ", gin[i].str(), " for input ", i, " ",
                in.str());
      if (in.impl().grad_fn) accumulate(grads[in.impl_ptr().get()], gin[i], false);
      else if (in.requires_grad()) accumulate(in.impl().grad, gin[i], true);
    }
    release(t);
  }
}

}  // namespace spk
