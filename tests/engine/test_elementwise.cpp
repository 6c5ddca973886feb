// Elementwise ops: forwards against values computed here independently, backwards against finite differences.
#include <cmath>

#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

TEST_CASE("binary ops broadcast and compute") {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::f32);
  Tensor b = Tensor::from_vector(std::vector<double>{10, 20, 30}, {3}, DType::f32);
  test::expect_close(a + b, {11, 22, 33, 14, 25, 36}, 0, 0, "add row broadcast");
  test::expect_close(a - b, {-9, -18, -27, -6, -15, -24}, 0, 0, "sub");
  test::expect_close(a * b, {10, 40, 90, 40, 100, 180}, 0, 0, "mul");
  Tensor c = Tensor::from_vector(std::vector<double>{2, 4}, {2, 1}, DType::f32);
  test::expect_close(a / c, {0.5, 1, 1.5, 1, 1.25, 1.5}, 0, 1e-7, "div column broadcast");
  CHECK_THROWS_WITH_AS(add(a, Tensor::zeros({4})), doctest::Contains("add: shapes (2, 3) and (4) do not broadcast"), Error);
  CHECK_THROWS_WITH_AS(add(a, Tensor::zeros({3}, DType::f64)), doctest::Contains("add: dtype mismatch"), Error);
}

TEST_CASE("binary ops read strided views") {
  Rng rng(1);
  Tensor a = Tensor::uniform({3, 4}, rng, -1, 1, DType::f64);
  Tensor at = transpose(a, 0, 1);   // (4, 3), strides (1, 4)
  Tensor b = Tensor::uniform({4, 3}, rng, -1, 1, DType::f64);
  auto va = a.to_double(), vb = b.to_double();
  std::vector<double> expect(12);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) expect[size_t(i * 3 + j)] = va[size_t(j * 4 + i)] * vb[size_t(i * 3 + j)];
  test::expect_close(at * b, expect, 0, 1e-15, "mul of a transposed view");
}

TEST_CASE("unary ops match libm") {
  std::vector<double> xs{-2.5, -0.3, 0.0, 0.7, 3.0};
  Tensor x = Tensor::from_vector(xs, {5}, DType::f64);
  auto each = [&](double (*f)(double)) { std::vector<double> r; for (double v : xs) r.push_back(f(v)); return r; };
  test::expect_close(exp(x), each([](double v) { return std::exp(v); }), 0, 1e-15, "exp");
  test::expect_close(tanh(x), each([](double v) { return std::tanh(v); }), 0, 1e-15, "tanh");
  test::expect_close(sigmoid(x), each([](double v) { return 1 / (1 + std::exp(-v)); }), 0, 1e-15, "sigmoid");
  test::expect_close(relu(x), {0, 0, 0, 0.7, 3}, 0, 0, "relu");
  test::expect_close(leaky_relu(x, 0.1), {-0.25, -0.03, 0, 0.7, 3}, 1e-16, 1e-15, "leaky_relu");
  test::expect_close(abs(x), {2.5, 0.3, 0, 0.7, 3}, 0, 0, "abs");
  test::expect_close(clamp(x, -1, 1), {-1, -0.3, 0, 0.7, 1}, 0, 0, "clamp");
  test::expect_close(x * 2.0 + 1.0, {-4, 0.4, 1, 2.4, 7}, 1e-15, 1e-15, "scalar affine");
  Tensor p = Tensor::from_vector(std::vector<double>{0.25, 1, 4}, {3}, DType::f64);
  test::expect_close(sqrt(p), {0.5, 1, 2}, 0, 1e-15, "sqrt");
  test::expect_close(log(p), {std::log(0.25), 0, std::log(4.0)}, 0, 1e-15, "log");
  test::expect_close(pow_scalar(p, 1.5), {0.125, 1, 8}, 0, 1e-15, "pow");
  // sigmoid stays finite for large |x| in f32
  Tensor big = Tensor::from_vector(std::vector<float>{-100.f, 100.f}, {2});
  test::expect_close(sigmoid(big), {0, 1}, 1e-30, 0, "sigmoid saturates without NaN");
}

// ---- gradient checks ----
static const Shape kOdd{3, 5};

#define SPK_BINARY_GRADCHECK(op)                                                                          \
  SPK_GRADCHECK_CASE(op, "(3,5) with (5) and (3,1) broadcasts") {                                        \
    Rng rng(1337);                                                                                         \
    auto a = rand_input(kOdd, rng, 0.5, 2), b = rand_input({5}, rng, 0.5, 2), c = rand_input({3, 1}, rng, 0.5, 2); \
    gradcheck([](const std::vector<Tensor>& in) { return op(in[0], in[1]); }, {a, b});                    \
    gradcheck([](const std::vector<Tensor>& in) { return op(in[0], in[1]); }, {c, b});                    \
    gradcheck([](const std::vector<Tensor>& in) { return op(transpose(in[0], 0, 1), in[1]); }, {a, rand_input({5, 3}, rng, 0.5, 2)}); \
  }
SPK_BINARY_GRADCHECK(add)
SPK_BINARY_GRADCHECK(sub)
SPK_BINARY_GRADCHECK(mul)
SPK_BINARY_GRADCHECK(div)

#define SPK_UNARY_GRADCHECK(op, lo, hi, expr)                                                             \
  SPK_GRADCHECK_CASE(op, "(3,5) in [" #lo ", " #hi "]") {                                                \
    Rng rng(1337);                                                                                         \
    auto x = rand_input(kOdd, rng, lo, hi);                                                                \
    gradcheck([](const std::vector<Tensor>& in) { const Tensor& x = in[0]; return expr; }, {x});            \
  }
SPK_UNARY_GRADCHECK(neg, -2, 2, neg(x))
SPK_UNARY_GRADCHECK(exp, -2, 2, exp(x))
SPK_UNARY_GRADCHECK(log, 0.1, 3, log(x))
SPK_UNARY_GRADCHECK(sqrt, 0.1, 3, sqrt(x))
SPK_UNARY_GRADCHECK(abs, -2, 2, abs(x))          // |x| > eps almost surely: no kink hit
SPK_UNARY_GRADCHECK(relu, -2, 2, relu(x))
SPK_UNARY_GRADCHECK(leaky_relu, -2, 2, leaky_relu(x, 0.2))
SPK_UNARY_GRADCHECK(sigmoid, -4, 4, sigmoid(x))
SPK_UNARY_GRADCHECK(tanh, -3, 3, tanh(x))
SPK_UNARY_GRADCHECK(add_scalar, -2, 2, add_scalar(x, 0.7))
SPK_UNARY_GRADCHECK(mul_scalar, -2, 2, mul_scalar(x, -1.3))
SPK_UNARY_GRADCHECK(pow_scalar, 0.2, 2, pow_scalar(x, 2.5))
SPK_UNARY_GRADCHECK(clamp, -2, 2, clamp(x, -0.5, 0.8))

TEST_CASE("gradients accumulate over fan-out and across backward calls") {
  Rng rng(7);
  Tensor x = rand_input({4}, rng);
  Tensor y = sum(add(mul(x, x), x));   // dy/dx = 2x + 1
  y.backward();
  auto xv = x.to_double();
  std::vector<double> expect;
  for (double v : xv) expect.push_back(2 * v + 1);
  test::expect_close(x.grad(), expect, 1e-14, 1e-14, "fan-out");
  sum(x).backward();                    // += 1
  for (double& v : expect) v += 1;
  test::expect_close(x.grad(), expect, 1e-14, 1e-14, "accumulated");
}

TEST_CASE("no_grad records nothing") {
  Rng rng(7);
  Tensor x = rand_input({4}, rng);
  NoGradGuard ng;
  Tensor y = exp(x);
  CHECK(y.is_leaf());
  CHECK_FALSE(y.requires_grad());
}
