// batch_norm_relu (the fused batch norm + ReLU): forward against loops, bit-equality with the composition
// relu(batch_norm(x)) in values, running statistics and every gradient (f32 and f64, training and eval),
// the finite-difference gradient check in double, and its argument checks.
#include <cmath>

#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

namespace {

Tensor vec(const std::vector<double>& v) { return Tensor::from_vector(v, {int64_t(v.size())}, DType::f64); }

// Element-for-element equality (the fused kernel promises the composition's exact bits).
void expect_identical(const Tensor& a, const Tensor& b, const std::string& what) {
  test::expect_close(a, b, 0, 0, what);
}

struct Cfg {
  const char* name;
  Shape shape;
  bool training, affine;
};

// The fused op and the composition on identical leaves; values, running stats and gradients must agree.
void compare_with_composition(const Cfg& c, DType dt) {
  INFO(c.name << " " << dtype_name(dt));
  Rng rng(99);
  const int64_t C = c.shape[1];
  Tensor x0 = Tensor::uniform(c.shape, rng, -2, 2, dt);
  Tensor w0 = Tensor::uniform({C}, rng, -1.5, 1.5, dt), b0 = Tensor::uniform({C}, rng, -0.5, 0.5, dt);
  Tensor rm0 = Tensor::uniform({C}, rng, -0.5, 0.5, dt), rv0 = Tensor::uniform({C}, rng, 0.5, 2, dt);
  auto leaf = [](const Tensor& t) { Tensor l = t.clone(); l.set_requires_grad(true); return l; };
  Tensor x1 = leaf(x0), w1 = leaf(w0), b1 = leaf(b0), x2 = leaf(x0), w2 = leaf(w0), b2 = leaf(b0);
  Tensor rm1 = rm0.clone(), rv1 = rv0.clone(), rm2 = rm0.clone(), rv2 = rv0.clone();
  Tensor wa1 = c.affine ? w1 : Tensor(), ba1 = c.affine ? b1 : Tensor();
  Tensor wa2 = c.affine ? w2 : Tensor(), ba2 = c.affine ? b2 : Tensor();
  Tensor y1 = batch_norm_relu(x1, wa1, ba1, rm1, rv1, c.training, 0.3, 1e-4);
  Tensor y2 = relu(batch_norm(x2, wa2, ba2, rm2, rv2, c.training, 0.3, 1e-4));
  expect_identical(y1, y2, "forward");
  expect_identical(rm1, rm2, "running_mean");
  expect_identical(rv1, rv2, "running_var");
  Tensor g = Tensor::normal(c.shape, rng, 0, 1, dt);
  y1.backward(g);
  y2.backward(g);
  expect_identical(x1.grad(), x2.grad(), "dx");
  if (c.affine) {
    expect_identical(w1.grad(), w2.grad(), "dweight");
    expect_identical(b1.grad(), b2.grad(), "dbias");
  }
}

}  // namespace

TEST_CASE("batch_norm_relu forward against loops: (3, 2, 5) training") {
  Rng rng(5);
  const int64_t N = 3, C = 2, S = 5;
  Tensor x = Tensor::uniform({N, C, S}, rng, -2, 3, DType::f64);
  std::vector<double> w{0.7, -1.3}, b{0.2, -0.1};
  Tensor y = batch_norm_relu(x, vec(w), vec(b), Tensor(), Tensor(), true, 0.1, 1e-5);
  const auto xv = x.to_double();
  std::vector<double> expect(xv.size());
  for (int64_t c = 0; c < C; ++c) {
    double m = 0, v = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) m += xv[size_t((n * C + c) * S + s)];
    m /= double(N * S);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) v += std::pow(xv[size_t((n * C + c) * S + s)] - m, 2);
    v /= double(N * S);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const size_t k = size_t((n * C + c) * S + s);
        expect[k] = std::max(0.0, (xv[k] - m) / std::sqrt(v + 1e-5) * w[size_t(c)] + b[size_t(c)]);
      }
  }
  test::expect_close(y, expect, 1e-14, 1e-13, "forward");
  int zeros = 0;
  for (double e : expect) zeros += e == 0;
  CHECK_MESSAGE(zeros > 0, "the case must exercise the ReLU's zero side");
  CHECK_MESSAGE(zeros < int(expect.size()), "the case must exercise the ReLU's positive side");
}

TEST_CASE("batch_norm_relu equals relu(batch_norm) bit for bit: values, running stats, gradients") {
  for (DType dt : {DType::f32, DType::f64})
    for (const Cfg& c : {Cfg{"(5,3,4,3) training affine", {5, 3, 4, 3}, true, true},
                         Cfg{"(7,4) training no affine", {7, 4}, true, false},
                         Cfg{"(2,3,9) eval affine", {2, 3, 9}, false, true}})
      compare_with_composition(c, dt);
}

SPK_GRADCHECK_CASE(batch_norm_relu, "training (3,2,5) affine; (4,3) no affine; eval (2,3,2,3)") {
  Rng rng(1337);
  {
    Tensor x = rand_input({3, 2, 5}, rng, -2, 2), w = rand_input({2}, rng, 0.5, 1.5),
           b = rand_input({2}, rng, -0.3, 0.3);
    gradcheck([](const std::vector<Tensor>& in) {
      return batch_norm_relu(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5);
    }, {x, w, b});
  }
  {
    Tensor x = rand_input({4, 3}, rng, -2, 2);
    gradcheck([](const std::vector<Tensor>& in) {
      return batch_norm_relu(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
    }, {x});
  }
  {
    Tensor x = rand_input({2, 3, 2, 3}, rng, -2, 2), w = rand_input({3}, rng, -1.5, 1.5),
           b = rand_input({3}, rng, -0.3, 0.3);
    Tensor rm = vec({0.1, -0.2, 0.3}), rv = vec({0.8, 1.2, 0.5});
    gradcheck([rm, rv](const std::vector<Tensor>& in) {
      return batch_norm_relu(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-5);
    }, {x, w, b});
  }
}

TEST_CASE("batch_norm_relu argument errors name the op") {
  Tensor x = Tensor::zeros({2, 3, 4});
  CHECK_THROWS_WITH_AS(batch_norm_relu(x, Tensor::ones({4}), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm_relu: weight"), Error);
  CHECK_THROWS_WITH_AS(batch_norm_relu(x, Tensor(), Tensor(), Tensor(), Tensor(), false),
                       doctest::Contains("batch_norm_relu: eval mode needs running_mean"), Error);
  CHECK_THROWS_WITH_AS(batch_norm_relu(Tensor::zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm_relu: expected more than 1 value per channel"), Error);
}
