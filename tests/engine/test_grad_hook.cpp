// LeafGradHookScope (engine/autograd.h): the gradient-ready hook that bucketed all-reduces overlapping the
// backward pass start from (engine/dist/grad_buckets.h).
#include <algorithm>
#include <map>
#include <vector>

#include "support/check.h"
#include "engine/autograd.h"
#include "engine/grad_hook.h"
#include "engine/ops.h"

using namespace spk;

namespace {
Tensor leaf(std::vector<double> v) {
  Tensor t = Tensor::from_vector(v, {int64_t(v.size())}, DType::f64);
  t.set_requires_grad(true);
  return t;
}
}  // namespace

TEST_CASE("the leaf-gradient hook fires once per reached leaf, with its gradient final") {
  Tensor a = leaf({1, 2}), b = leaf({3, -1}), unused = leaf({5});
  // a feeds three nodes (fan-in), one of them late in the backward order; b one; `unused` none.
  Tensor y = sum(mul(add(mul(a, b), a), a));
  std::vector<TensorImpl*> fired;
  std::map<TensorImpl*, std::vector<double>> at_hook;
  {
    LeafGradHookScope scope([&](const Tensor& t) {
      fired.push_back(t.impl_ptr().get());
      at_hook[t.impl_ptr().get()] = t.grad().to_double();
    });
    y.backward();
  }
  REQUIRE(fired.size() == 2);
  CHECK(fired[0] != fired[1]);
  // y = sum(a²b + a²): dy/da = 2ab + 2a, dy/db = a².
  CHECK(at_hook[a.impl_ptr().get()] == std::vector<double>{2 * 1 * 3 + 2 * 1, 2 * 2 * -1 + 2 * 2});
  CHECK(at_hook[b.impl_ptr().get()] == std::vector<double>{1, 4});
  CHECK(at_hook[a.impl_ptr().get()] == a.grad().to_double());
  CHECK(!at_hook.count(unused.impl_ptr().get()));
  // Out of the scope: no hook; a second backward accumulates, as before.
  fired.clear();
  sum(mul(a, b)).backward();
  CHECK(fired.empty());
  CHECK(b.grad().to_double() == std::vector<double>{2, 6});
}

TEST_CASE("the leaf-gradient hook: a leaf root, and a branch no gradient flows through") {
  Tensor a = leaf({2});
  std::vector<TensorImpl*> fired;
  LeafGradHookScope scope([&](const Tensor& t) { fired.push_back(t.impl_ptr().get()); });
  a.backward(Tensor::ones({1}, DType::f64));
  CHECK(fired == std::vector<TensorImpl*>{a.impl_ptr().get()});
  // c's node is in the graph but gets no gradient (the op above it returns none): c is still reported, once
  // backward has passed it, with no gradient; a normally.
  Tensor c = leaf({4});
  Tensor u = mul(c, c);
  Tensor stop = record("stop", u.detach().clone(), {u}, [](const Tensor&) { return std::vector<Tensor>{Tensor()}; });
  Tensor y = sum(add(stop, mul(a, a)));
  fired.clear();
  y.backward();
  REQUIRE(fired.size() == 2);
  CHECK(std::count(fired.begin(), fired.end(), c.impl_ptr().get()) == 1);
  CHECK(!c.grad().defined());
  CHECK(a.grad().to_double()[0] == doctest::Approx(1 + 2 * 2));
}
