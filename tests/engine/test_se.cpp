// The fused SE-block ops (engine/ops/se.cpp, kernels/se): squeeze_excite against a plain double loop and against
// the composition it replaces in the nets (mean, linear, relu, linear, sigmoid, mul: values and every gradient),
// add_relu bit for bit against relu(a + b), both gradient checks in double, and the argument errors.
#include <cmath>

#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

namespace {

// The composition nets/blocks.cpp ran before the fused op: SELayer's forward, for any rank ≥ 3.
Tensor se_composed(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2) {
  std::vector<int64_t> dims;
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Tensor s = sigmoid(linear(relu(linear(mean(x, dims), w1, b1)), w2, b2));   // (N, C)
  Shape bshape{x.size(0), x.size(1)};
  while (int64_t(bshape.size()) < x.dim()) bshape.push_back(1);
  return x * reshape(s, bshape);
}

Tensor leaf(const Tensor& t) {
  Tensor l = t.clone();
  l.set_requires_grad(true);
  return l;
}

}  // namespace

TEST_CASE("squeeze_excite forward against a double loop: (2, 3, 2, 2), R = 2") {
  Rng rng(3);
  const int64_t N = 2, C = 3, S = 4, R = 2;
  Tensor x = Tensor::uniform({N, C, 2, 2}, rng, -2, 2, DType::f64);
  Tensor w1 = Tensor::uniform({R, C}, rng, -1, 1, DType::f64), b1 = Tensor::uniform({R}, rng, -0.5, 0.5, DType::f64);
  Tensor w2 = Tensor::uniform({C, R}, rng, -1, 1, DType::f64), b2 = Tensor::uniform({C}, rng, -0.5, 0.5, DType::f64);
  const auto xv = x.to_double(), w1v = w1.to_double(), b1v = b1.to_double(), w2v = w2.to_double(),
             b2v = b2.to_double();
  std::vector<double> expect(xv.size());
  int relu_zeros = 0;
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> m(size_t(C), 0.0), h(size_t(R), 0.0);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t s = 0; s < S; ++s) m[size_t(c)] += xv[size_t((n * C + c) * S + s)] / double(S);
    for (int64_t r = 0; r < R; ++r) {
      double z = b1v[size_t(r)];
      for (int64_t c = 0; c < C; ++c) z += w1v[size_t(r * C + c)] * m[size_t(c)];
      h[size_t(r)] = std::max(z, 0.0);
      relu_zeros += z <= 0;
    }
    for (int64_t c = 0; c < C; ++c) {
      double z = b2v[size_t(c)];
      for (int64_t r = 0; r < R; ++r) z += w2v[size_t(c * R + r)] * h[size_t(r)];
      const double sc = 1 / (1 + std::exp(-z));
      for (int64_t s = 0; s < S; ++s) expect[size_t((n * C + c) * S + s)] = xv[size_t((n * C + c) * S + s)] * sc;
    }
  }
  test::expect_close(squeeze_excite(x, w1, b1, w2, b2), expect, 1e-14, 1e-13, "forward");
  CHECK_MESSAGE(relu_zeros > 0, "the case must exercise the hidden ReLU's zero side");
}

TEST_CASE("squeeze_excite equals the composed SE layer: values and gradients, f32 and f64, 3-d and 4-d") {
  struct Cfg { const char* name; Shape shape; int64_t R; bool bias; };
  for (DType dt : {DType::f32, DType::f64})
    for (const Cfg& c : {Cfg{"ResNetSE34L layer2-like (4,32,10,51) r 8", {4, 32, 10, 51}, 4, true},
                         Cfg{"ECAPA-like (3,64,300) R 16", {3, 64, 300}, 16, true},
                         Cfg{"(2,5,1,1) no biases", {2, 5, 1, 1}, 3, false}}) {
      INFO(c.name << " " << dtype_name(dt));
      Rng rng(21);
      const int64_t C = c.shape[1];
      Tensor x0 = Tensor::uniform(c.shape, rng, -2, 2, dt);
      Tensor w10 = Tensor::uniform({c.R, C}, rng, -0.5, 0.5, dt), b10 = Tensor::uniform({c.R}, rng, -0.2, 0.2, dt);
      Tensor w20 = Tensor::uniform({C, c.R}, rng, -0.5, 0.5, dt), b20 = Tensor::uniform({C}, rng, -0.2, 0.2, dt);
      std::vector<Tensor> in1{leaf(x0), leaf(w10), leaf(b10), leaf(w20), leaf(b20)};
      std::vector<Tensor> in2{leaf(x0), leaf(w10), leaf(b10), leaf(w20), leaf(b20)};
      auto b = [&](const std::vector<Tensor>& in, int i) { return c.bias ? in[size_t(i)] : Tensor(); };
      Tensor y1 = squeeze_excite(in1[0], in1[1], b(in1, 2), in1[3], b(in1, 4));
      Tensor y2 = se_composed(in2[0], in2[1], b(in2, 2), in2[3], b(in2, 4));
      // f32: the fused op sums in another order (blocked lanes carried in double) than the composed mean.
      const double tol = dt == DType::f32 ? 2e-6 : 1e-13;
      test::expect_close(y1, y2, tol, tol, "forward");
      Tensor g = Tensor::normal(c.shape, rng, 0, 1, dt);
      y1.backward(g);
      y2.backward(g);
      const char* names[] = {"dx", "dw1", "db1", "dw2", "db2"};
      for (int i = 0; i < 5; ++i) {
        if (!c.bias && (i == 2 || i == 4)) continue;
        // The weight gradients sum Σ g·x over all S positions first: a few more ulps in f32.
        test::expect_close(in1[size_t(i)].grad(), in2[size_t(i)].grad(), 10 * tol, 10 * tol, names[i]);
      }
    }
}

TEST_CASE("squeeze_excite: a sample's output and input gradient do not depend on the batch around it") {
  // spk_train --distributed runs 2 ranks x batch 2 where one process runs batch 4 and must match it to rounding
  // (dist_train's --spec_aug case, ResNetSE34L): a row's values must not depend on how many rows share the call,
  // or ReLU inputs within an ulp of zero flip sign between the two runs. Forward and dx bit for bit over the
  // splits 4 = 2 + 2 = 1 + 1 + 1 + 1; the weight gradients (sums over the batch) to rounding.
  struct Cfg { const char* name; Shape shape; int64_t R; };
  for (const Cfg& c : {Cfg{"ResNetSE34L layer3-like (4,64,5,6) R 8", {4, 64, 5, 6}, 8},
                       Cfg{"ResNetSE34L layer1-like (4,16,20,22) R 2", {4, 16, 20, 22}, 2},
                       Cfg{"ECAPA-like (4,96,37) R 24", {4, 96, 37}, 24}}) {
    INFO(c.name);
    Rng rng(5);
    const int64_t N = c.shape[0], C = c.shape[1];
    Tensor x0 = Tensor::uniform(c.shape, rng, -2, 2);
    Tensor w10 = Tensor::uniform({c.R, C}, rng, -0.5, 0.5), b10 = Tensor::uniform({c.R}, rng, -0.2, 0.2);
    Tensor w20 = Tensor::uniform({C, c.R}, rng, -0.5, 0.5), b20 = Tensor::uniform({C}, rng, -0.2, 0.2);
    Tensor g0 = Tensor::normal(c.shape, rng, 0, 1);
    struct Run { Tensor y, dx, dw1, db1, dw2, db2; };
    auto run = [&](int64_t parts) {
      std::vector<Tensor> ys, dxs;
      Tensor w1 = leaf(w10), b1 = leaf(b10), w2 = leaf(w20), b2 = leaf(b20);
      const int64_t n = N / parts;
      for (int64_t p = 0; p < parts; ++p) {
        Tensor x = leaf(contiguous(slice(x0, 0, p * n, (p + 1) * n)));
        Tensor y = squeeze_excite(x, w1, b1, w2, b2);
        y.backward(contiguous(slice(g0, 0, p * n, (p + 1) * n)));
        ys.push_back(y.detach());
        dxs.push_back(x.grad());
      }
      return Run{concat(ys, 0), concat(dxs, 0), w1.grad(), b1.grad(), w2.grad(), b2.grad()};
    };
    const Run whole = run(1);
    for (int64_t parts : {2, 4}) {
      INFO(parts << " parts");
      const Run split = run(parts);
      test::expect_close(split.y, whole.y, 0, 0, "forward");
      test::expect_close(split.dx, whole.dx, 0, 0, "dx");
      test::expect_close(split.dw1, whole.dw1, 1e-6, 1e-5, "dw1");
      test::expect_close(split.db1, whole.db1, 1e-6, 1e-5, "db1");
      test::expect_close(split.dw2, whole.dw2, 1e-6, 1e-5, "dw2");
      test::expect_close(split.db2, whole.db2, 1e-6, 1e-5, "db2");
    }
  }
}

SPK_GRADCHECK_CASE(squeeze_excite, "(2,3,2,3) R 2 with biases; (3,4,5) R 3 no biases; (1,2,1) R 1") {
  Rng rng(1337);
  {
    Tensor x = rand_input({2, 3, 2, 3}, rng), w1 = rand_input({2, 3}, rng), b1 = rand_input({2}, rng, -0.3, 0.3),
           w2 = rand_input({3, 2}, rng), b2 = rand_input({3}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return squeeze_excite(in[0], in[1], in[2], in[3], in[4]); },
              {x, w1, b1, w2, b2});
  }
  {
    Tensor x = rand_input({3, 4, 5}, rng), w1 = rand_input({3, 4}, rng), w2 = rand_input({4, 3}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return squeeze_excite(in[0], in[1], Tensor(), in[2], Tensor()); },
              {x, w1, w2});
  }
  {
    Tensor x = rand_input({1, 2, 1}, rng), w1 = rand_input({1, 2}, rng, 0.2, 1), b1 = rand_input({1}, rng, 0.1, 0.3),
           w2 = rand_input({2, 1}, rng), b2 = rand_input({2}, rng);
    gradcheck([](const std::vector<Tensor>& in) { return squeeze_excite(in[0], in[1], in[2], in[3], in[4]); },
              {x, w1, b1, w2, b2});
  }
}

TEST_CASE("squeeze_excite argument errors name the op and the argument") {
  Tensor x = Tensor::zeros({2, 4, 3}), w1 = Tensor::zeros({2, 4}), b1 = Tensor::zeros({2}), w2 = Tensor::zeros({4, 2}),
         b2 = Tensor::zeros({4});
  CHECK_THROWS_WITH(squeeze_excite(Tensor::zeros({2, 4}), w1, b1, w2, b2),
                    doctest::Contains("squeeze_excite: input must be (N, C, L) or (N, C, H, W)"));
  CHECK_THROWS_WITH(squeeze_excite(x, Tensor::zeros({2, 3}), b1, w2, b2), doctest::Contains("squeeze_excite: w1"));
  CHECK_THROWS_WITH(squeeze_excite(x, w1, Tensor::zeros({3}), w2, b2), doctest::Contains("squeeze_excite: b1"));
  CHECK_THROWS_WITH(squeeze_excite(x, w1, b1, Tensor::zeros({2, 4}), b2), doctest::Contains("squeeze_excite: w2"));
  CHECK_THROWS_WITH(squeeze_excite(x, w1, b1, w2, Tensor::zeros({4}, DType::f64)),
                    doctest::Contains("squeeze_excite: b2"));
  CHECK_THROWS_WITH(squeeze_excite(Tensor::zeros({2, 4, 0}), w1, b1, w2, b2), doctest::Contains("no positions"));
}

TEST_CASE("add_relu equals relu(a + b) bit for bit: values and both gradients") {
  for (DType dt : {DType::f32, DType::f64}) {
    INFO(dtype_name(dt));
    Rng rng(8);
    Tensor a0 = Tensor::uniform({4, 3, 5, 7}, rng, -1, 1, dt), b0 = Tensor::uniform({4, 3, 5, 7}, rng, -1, 1, dt);
    Tensor a1 = leaf(a0), b1 = leaf(b0), a2 = leaf(a0), b2 = leaf(b0);
    Tensor y1 = add_relu(a1, b1), y2 = relu(a2 + b2);
    test::expect_close(y1, y2, 0, 0, "forward");
    int zeros = 0;
    for (double v : y1.to_double()) zeros += v == 0;
    CHECK_MESSAGE(zeros > 0, "the case must exercise the ReLU's zero side");
    Tensor g = Tensor::normal(a0.shape(), rng, 0, 1, dt);
    y1.backward(g);
    y2.backward(g);
    test::expect_close(a1.grad(), a2.grad(), 0, 0, "da");
    test::expect_close(b1.grad(), b2.grad(), 0, 0, "db");
  }
}

TEST_CASE("add_relu: the same tensor on both sides gets both gradients") {
  Tensor a = leaf(Tensor::from_vector(std::vector<double>{-1, 0.5, 2}, {3}, DType::f64));
  add_relu(a, a).backward(Tensor::from_vector(std::vector<double>{1, 1, 3}, {3}, DType::f64));
  test::expect_close(a.grad(), std::vector<double>{0, 2, 6}, 0, 0, "da");
}

SPK_GRADCHECK_CASE(add_relu, "(3,4,5), away from the kink") {
  Rng rng(1337);
  Tensor a = rand_input({3, 4, 5}, rng), b = rand_input({3, 4, 5}, rng);
  // Keep every sum at least 0.05 from 0, where the finite difference would straddle the kink.
  {
    NoGradGuard ng;
    auto av = a.to_double(), bv = b.to_double();
    for (size_t i = 0; i < av.size(); ++i)
      if (std::abs(av[i] + bv[i]) < 0.05) av[i] += 0.1;
    a = leaf(Tensor::from_vector(av, a.shape(), DType::f64));
  }
  gradcheck([](const std::vector<Tensor>& in) { return add_relu(in[0], in[1]); }, {a, b});
}

TEST_CASE("add_relu argument errors name the op") {
  CHECK_THROWS_WITH(add_relu(Tensor::zeros({2, 3}), Tensor::zeros({3})), doctest::Contains("add_relu: shapes"));
  CHECK_THROWS_WITH(add_relu(Tensor::zeros({3}), Tensor::zeros({3}, DType::f64)), doctest::Contains("add_relu:"));
}
