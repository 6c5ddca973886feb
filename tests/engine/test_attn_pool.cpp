// The fused attentive pooling ops (engine/ops/attn_pool.cpp, kernels/attnpool): sap_pool and attentive_stats_pool
// against the compositions of table ops they replace in nets/blocks.cpp (values and every gradient, f64 to 1e-12,
// f32 within f32 rounding), the clamp of the variance (both bounds, gradient zero outside), thread counts not
// changing a bit, finite-difference gradient checks in double, and the argument checks.
#include <cmath>
#include <limits>

#include "engine/cpu_threads.h"
#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

Tensor leaf(const Tensor& t) {
  Tensor l = t.clone();
  l.set_requires_grad(true);
  return l;
}

// The statistics as nets/blocks.cpp composed them before the fused ops: w sums to 1 over dim `t`.
Tensor composed_stats(const Tensor& x, const Tensor& w, int64_t t, bool with_std, double lo, double hi) {
  Tensor mu = sum(x * w, {t});
  if (!with_std) return mu;
  return concat({mu, sqrt(clamp(sum(x * x * w, {t}) - mu * mu, lo, hi))}, 1);
}

Tensor composed_sap(const Tensor& h_pre, const Tensor& att, const Tensor& x, bool with_std) {
  Tensor w = softmax(matmul(tanh(h_pre), att), 1);   // (B, L, 1)
  return composed_stats(x, w, 1, with_std, 1e-5, kInf);
}

Tensor composed_attentive(const Tensor& logits, const Tensor& x, bool with_std, double lo, double hi) {
  Tensor w = softmax(logits, 2);
  if (w.size(1) != x.size(1)) w = expand(w, x.shape());
  return composed_stats(x, w, 2, with_std, lo, hi);
}

struct Tols {
  double atol, rtol;
};
Tols tols(DType dt) { return dt == DType::f64 ? Tols{1e-12, 1e-10} : Tols{2e-6, 2e-5}; }

// Runs f (fused) and g (composed) on identical leaves, backpropagates one random cotangent through both and
// compares the outputs and every input's gradient.
void compare(const std::string& what, const test::Fn& fused, const test::Fn& composed, const std::vector<Tensor>& in,
             DType dt, Rng& rng) {
  std::vector<Tensor> a, b;
  for (const Tensor& t : in) {
    a.push_back(leaf(t));
    b.push_back(leaf(t));
  }
  Tensor ya = fused(a), yb = composed(b);
  const Tols tol = tols(dt);
  test::expect_close(ya, yb, tol.atol, tol.rtol, what + " forward");
  Tensor g = Tensor::normal(ya.shape(), rng, 0, 1, dt);
  ya.backward(g);
  yb.backward(g);
  for (size_t i = 0; i < in.size(); ++i)
    test::expect_close(a[i].grad(), b[i].grad(), tol.atol * 10, tol.rtol * 10, what + " grad " + std::to_string(i));
}

}  // namespace

TEST_CASE("sap_pool equals the composition tanh, matmul, softmax, sum, clamp, sqrt: values and gradients") {
  Rng rng(5);
  struct Case { const char* name; int64_t B, L, H, D; };
  for (DType dt : {DType::f64, DType::f32})
    for (const Case& c : {Case{"(3,7) H 5 D 5", 3, 7, 5, 5}, Case{"(2,1) one frame", 2, 1, 4, 3},
                          Case{"(2,13) H 9 D 6", 2, 13, 9, 6}, Case{"(4,40) H 32 D 32", 4, 40, 32, 32}})
      for (bool with_std : {false, true}) {
        Tensor h = Tensor::uniform({c.B, c.L, c.H}, rng, -2, 2, dt), a = Tensor::uniform({c.H, 1}, rng, -1, 1, dt);
        Tensor x = Tensor::uniform({c.B, c.L, c.D}, rng, -1, 2, dt);
        compare(std::string(c.name) + (with_std ? " ASP " : " SAP ") + dtype_name(dt),
                [with_std](const std::vector<Tensor>& in) { return sap_pool(in[0], in[1], in[2], with_std); },
                [with_std](const std::vector<Tensor>& in) { return composed_sap(in[0], in[1], in[2], with_std); },
                {h, a, x}, dt, rng);
      }
}

TEST_CASE("sap_pool: an attention vector of shape (H) is the (H, 1) one; its gradient keeps its shape") {
  Rng rng(6);
  Tensor h = Tensor::uniform({2, 4, 3}, rng, -1, 1, DType::f64), x = Tensor::uniform({2, 4, 3}, rng, -1, 1, DType::f64);
  Tensor a1 = leaf(Tensor::uniform({3}, rng, -1, 1, DType::f64)), a2 = leaf(reshape(a1.detach(), {3, 1}));
  Tensor y1 = sap_pool(h, a1, x, true), y2 = sap_pool(h, a2, x, true);
  test::expect_close(y1, y2, 0, 0, "values");
  sum(y1, {0, 1}).backward();
  sum(y2, {0, 1}).backward();
  CHECK(a1.grad().shape() == Shape{3});
  test::expect_close(reshape(a2.grad(), {3}), a1.grad(), 0, 0, "grad");
}

TEST_CASE("attentive_stats_pool equals softmax + the composed statistics: per-channel and shared weights") {
  Rng rng(7);
  struct Case { const char* name; int64_t B, C, Cw, L; bool with_std; double lo, hi; };
  for (DType dt : {DType::f64, DType::f32})
    for (const Case& c : {Case{"(2,5,5,7) ECAPA std", 2, 5, 5, 7, true, 1e-4, kInf},
                          Case{"(3,4,4,9) mean only", 3, 4, 4, 9, false, 1e-4, kInf},
                          Case{"(2,6,1,8) shared weights", 2, 6, 1, 8, true, 1e-7, kInf},
                          Case{"(2,40,40,37) 40 rows: two work units", 2, 40, 40, 37, true, 1e-5, kInf},
                          Case{"(1,3,3,1) one frame: clamped", 1, 3, 3, 1, true, 1e-4, kInf},
                          Case{"(2,3,1,6) RawNet3 clamp both sides", 2, 3, 1, 6, true, 1e-4, 0.2}}) {
      Tensor l = Tensor::uniform({c.B, c.Cw, c.L}, rng, -3, 3, dt), x = Tensor::uniform({c.B, c.C, c.L}, rng, -1, 2, dt);
      const bool s = c.with_std;
      const double lo = c.lo, hi = c.hi;
      compare(std::string(c.name) + " " + dtype_name(dt),
              [=](const std::vector<Tensor>& in) { return attentive_stats_pool(in[0], in[1], s, lo, hi); },
              [=](const std::vector<Tensor>& in) { return composed_attentive(in[0], in[1], s, lo, hi); }, {l, x}, dt,
              rng);
    }
}

TEST_CASE("attentive_stats_pool against a hand-worked case: two frames, weights 1/4 and 3/4") {
  // logits (0, ln 3): w = (1/4, 3/4); x = (1, 3): mu = 2.5, m2 = 1/4 + 27/4 = 7, v = 0.75, sg = sqrt(0.75).
  Tensor l = Tensor::from_vector({0.0, std::log(3.0)}, {1, 1, 2}, DType::f64);
  Tensor x = Tensor::from_vector({1.0, 3.0}, {1, 1, 2}, DType::f64);
  test::expect_close(attentive_stats_pool(l, x, true, 1e-4), std::vector<double>{2.5, std::sqrt(0.75)}, 1e-15, 1e-14,
                     "y");
  // A constant channel has v = 0: clamped to clamp_min, its sg is sqrt(clamp_min) and passes no gradient to x.
  Tensor xc = leaf(Tensor::from_vector({2.0, 2.0}, {1, 1, 2}, DType::f64));
  Tensor y = attentive_stats_pool(l, xc, true, 1e-4);
  test::expect_close(y, std::vector<double>{2.0, 1e-2}, 1e-15, 1e-14, "clamped");
  Tensor pick = Tensor::from_vector({0.0, 1.0}, {1, 2}, DType::f64);
  sum(y * pick, {0, 1}).backward();
  test::expect_close(xc.grad(), std::vector<double>{0.0, 0.0}, 0, 0, "no gradient through the clamp");
}

TEST_CASE("sap_pool and attentive_stats_pool: 1 and 2 threads give the same bits") {
  Rng rng(8);
  Tensor h = Tensor::uniform({5, 30, 16}, rng, -1, 1), a = Tensor::uniform({16, 1}, rng, -1, 1);
  Tensor x = Tensor::uniform({5, 30, 16}, rng, -1, 1);
  Tensor l = Tensor::uniform({3, 70, 25}, rng, -2, 2), xs = Tensor::uniform({3, 70, 25}, rng, -1, 1);
  auto run = [&](int threads) {
    const int prev = cpu_threads();
    set_cpu_threads(threads);
    std::vector<Tensor> in{leaf(h), leaf(a), leaf(x), leaf(l), leaf(xs)};
    Tensor y1 = sap_pool(in[0], in[1], in[2], true), y2 = attentive_stats_pool(in[3], in[4], true, 1e-4);
    sum(y1, {0, 1}).backward();
    sum(y2 * y2, {0, 1}).backward();
    set_cpu_threads(prev);
    std::vector<Tensor> out{y1.detach(), y2.detach()};
    for (const Tensor& t : in) out.push_back(t.grad());
    return out;
  };
  auto one = run(1), two = run(2);
  for (size_t i = 0; i < one.size(); ++i) test::expect_close(one[i], two[i], 0, 0, "tensor " + std::to_string(i));
}

SPK_GRADCHECK_CASE(sap_pool, "SAP (2,5) H 4 D 3; ASP (3,4) H 3 D 5; ASP (1,1) one frame") {
  Rng rng(1337);
  struct Case { int64_t B, L, H, D; bool with_std; };
  for (const Case& c : {Case{2, 5, 4, 3, false}, Case{3, 4, 3, 5, true}, Case{1, 1, 2, 2, true}}) {
    Tensor h = rand_input({c.B, c.L, c.H}, rng, -2, 2), a = rand_input({c.H, 1}, rng), x = rand_input({c.B, c.L, c.D}, rng);
    const bool s = c.with_std;
    gradcheck([s](const std::vector<Tensor>& in) { return sap_pool(in[0], in[1], in[2], s); }, {h, a, x});
  }
}

SPK_GRADCHECK_CASE(attentive_stats_pool, "per-channel (2,3,6) with std; mean only (2,2,4); shared (2,4,1,5)") {
  Rng rng(1337);
  {
    Tensor l = rand_input({2, 3, 6}, rng, -2, 2), x = rand_input({2, 3, 6}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return attentive_stats_pool(in[0], in[1], true, 1e-4); }, {l, x});
  }
  {
    Tensor l = rand_input({2, 2, 4}, rng, -2, 2), x = rand_input({2, 2, 4}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return attentive_stats_pool(in[0], in[1], false, 1e-4); }, {l, x});
  }
  {
    Tensor l = rand_input({2, 1, 5}, rng, -2, 2), x = rand_input({2, 4, 5}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return attentive_stats_pool(in[0], in[1], true, 1e-7, 1e4); },
              {l, x});
  }
}

TEST_CASE("sap_pool and attentive_stats_pool argument errors name the op and the shapes") {
  Tensor x = Tensor::zeros({2, 4, 3}), h = Tensor::zeros({2, 4, 5}), a = Tensor::zeros({5, 1});
  CHECK_THROWS_WITH_AS(sap_pool(h, Tensor::zeros({4, 1}), x, false), doctest::Contains("sap_pool: attention"), Error);
  CHECK_THROWS_WITH_AS(sap_pool(Tensor::zeros({2, 3, 5}), a, x, false), doctest::Contains("sap_pool: h_pre"), Error);
  CHECK_THROWS_WITH_AS(sap_pool(Tensor::zeros({2, 0, 5}), a, Tensor::zeros({2, 0, 3}), false),
                       doctest::Contains("L >= 1"), Error);
  CHECK_THROWS_WITH_AS(sap_pool(h, a, x.to(DType::f64), false), doctest::Contains("dtype"), Error);
  Tensor xs = Tensor::zeros({2, 3, 6});
  CHECK_THROWS_WITH_AS(attentive_stats_pool(Tensor::zeros({2, 2, 6}), xs, true, 1e-4),
                       doctest::Contains("attentive_stats_pool: logits"), Error);
  CHECK_THROWS_WITH_AS(attentive_stats_pool(xs, xs, true, 1e-2, 1e-3), doctest::Contains("clamp_min"), Error);
  CHECK_THROWS_WITH_AS(attentive_stats_pool(Tensor::zeros({2, 3, 0}), Tensor::zeros({2, 3, 0}), true, 1e-4),
                       doctest::Contains("L >= 1"), Error);
}
