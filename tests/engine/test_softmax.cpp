// Softmax family: forwards against plain loops and hand-worked numbers, stability on huge logits, label
// validation, finite-difference gradient checks.
// CUDA-vs-CPU parity: tests/kernels/test_cuda_parity_softmax.cpp.
#include <cmath>

#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

// Naive softmax (no max shift: inputs are small) along dim d of a dense (A, B, C) tensor.
static std::vector<double> loop_softmax(const std::vector<double>& x, const Shape& s, int d, bool log) {
  std::vector<double> y(x.size());
  const int64_t A = s[0], B = s[1], C = s[2];
  auto at = [&](int64_t a, int64_t b, int64_t c) { return size_t((a * B + b) * C + c); };
  for (int64_t a = 0; a < A; ++a)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t c = 0; c < C; ++c) {
        double z = 0;   // Σ over the dim d through the element (a, b, c)
        for (int64_t k = 0; k < s[size_t(d)]; ++k)
          z += std::exp(x[d == 0 ? at(k, b, c) : d == 1 ? at(a, k, c) : at(a, b, k)]);
        double v = x[at(a, b, c)];
        y[at(a, b, c)] = log ? v - std::log(z) : std::exp(v) / z;
      }
  return y;
}

TEST_CASE("softmax and log_softmax match plain loops along every dim") {
  Rng rng(11);
  const Shape s{2, 3, 4};
  Tensor x = Tensor::uniform(s, rng, -3, 3, DType::f64);
  auto xv = x.to_double();
  for (int d = 0; d < 3; ++d) {
    test::expect_close(softmax(x, d), loop_softmax(xv, s, d, false), 1e-15, 1e-13, "softmax dim " + std::to_string(d));
    test::expect_close(log_softmax(x, d), loop_softmax(xv, s, d, true), 1e-14, 1e-13,
                       "log_softmax dim " + std::to_string(d));
  }
  test::expect_close(softmax(x, -1), loop_softmax(xv, s, 2, false), 1e-15, 1e-13, "softmax dim -1");
  // A strided view gives the same result as its dense copy.
  Tensor xt = transpose(x, 0, 2);
  test::expect_close(softmax(xt, 1), softmax(xt.contiguous(), 1), 0, 0, "softmax of a transposed view");
  CHECK_THROWS_WITH_AS(softmax(x, 3), doctest::Contains("softmax: dim 3 out of range"), Error);
  CHECK_THROWS_WITH_AS(log_softmax(Tensor::zeros({3}, DType::i64), 0), doctest::Contains("log_softmax: unsupported dtype"),
                       Error);
}

TEST_CASE("softmax hand-worked values and numerics on huge logits") {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::f64);
  test::expect_close(softmax(x), {0.09003057317038046, 0.24472847105479767, 0.6652409557748219}, 0, 1e-14, "softmax 1,2,3");
  test::expect_close(log_softmax(x), {-2.4076059644443806, -1.4076059644443806, -0.4076059644443806}, 0, 1e-14,
                     "log_softmax 1,2,3");
  // f32 logits whose exp overflows: the max shift keeps everything finite.
  Tensor big = Tensor::from_vector(std::vector<float>{1000.f, 0.f, -1000.f, 1000.f, 1000.f, -50.f}, {2, 3});
  test::expect_close(softmax(big), {1, 0, 0, 0.5, 0.5, 0}, 1e-7, 0, "softmax of ±1000");
  test::expect_close(log_softmax(big), {0, -1000, -2000, -std::log(2.0), -std::log(2.0), -1050 - std::log(2.0)}, 1e-6,
                     1e-6, "log_softmax of ±1000");
  // Softmax rows sum to one in f32.
  Rng rng(5);
  Tensor r = softmax(Tensor::uniform({4, 9}, rng, -20, 20), 1);
  test::expect_close(sum(r, {1}), {1, 1, 1, 1}, 1e-6, 0, "f32 rows sum to 1");
}

// Mean over rows of logsumexp(x_n) − x_n[label_n], by plain loops.
static double loop_cross_entropy(const std::vector<double>& x, const std::vector<int64_t>& lab, int64_t C) {
  double total = 0;
  for (size_t n = 0; n < lab.size(); ++n) {
    double z = 0;
    for (int64_t c = 0; c < C; ++c) z += std::exp(x[n * size_t(C) + size_t(c)]);
    total += std::log(z) - x[n * size_t(C) + size_t(lab[n])];
  }
  return total / double(lab.size());
}

TEST_CASE("cross_entropy values, gradient at huge logits, and label errors") {
  Rng rng(3);
  Tensor x = Tensor::uniform({3, 4}, rng, -2, 2, DType::f64);
  std::vector<int64_t> lab{0, 3, 1};
  Tensor labels = Tensor::from_vector(lab, {3});
  Tensor loss = cross_entropy(x, labels);
  CHECK(loss.dim() == 0);
  test::expect_close(loss, {loop_cross_entropy(x.to_double(), lab, 4)}, 0, 1e-14, "cross_entropy vs loops");
  test::expect_close(cross_entropy(Tensor::zeros({1, 2}, DType::f64), Tensor::from_vector(std::vector<int64_t>{0}, {1})),
                     {std::log(2.0)}, 0, 1e-15, "uniform logits: log 2");

  // Logits 1000 apart in f32: loss and gradient finite. Row 0 pays 1000, row 1 pays 0: mean 500.
  Tensor big = Tensor::from_vector(std::vector<float>{1000.f, 0.f, 0.f, 1000.f}, {2, 2}).set_requires_grad(true);
  Tensor l = cross_entropy(big, Tensor::from_vector(std::vector<int64_t>{1, 1}, {2}));
  test::expect_close(l, {500}, 0, 1e-6, "cross_entropy of logits 1000 apart");
  l.backward();
  // d/dx = (softmax − onehot)/N: row 0 = ([1, 0] − [0, 1])/2, row 1 = ([0, 1] − [0, 1])/2.
  test::expect_close(big.grad(), {0.5, -0.5, 0, 0}, 1e-7, 0, "cross_entropy gradient at logits 1000 apart");

  CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor::from_vector(std::vector<int64_t>{0, 1, 4}, {3})),
                       doctest::Contains("cross_entropy: label 4 in row 2 is outside [0, 4)"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor::from_vector(std::vector<int64_t>{0, -1, 2}, {3})),
                       doctest::Contains("label -1 in row 1"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor::zeros({3}, DType::f32)), doctest::Contains("labels must be i64 (3)"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor::zeros({2}, DType::i64)), doctest::Contains("labels must be i64 (3)"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(Tensor::zeros({3, 4, 1}), labels), doctest::Contains("logits must be (N, C)"),
                       Error);
}

// ---- gradient checks ----
SPK_GRADCHECK_CASE(softmax, "(3,5,2) along dims 1 and -1, and a transposed view") {
  Rng rng(1337);
  auto x = rand_input({3, 5, 2}, rng, -2, 2);
  gradcheck([](const std::vector<Tensor>& in) { return softmax(in[0], 1); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return softmax(in[0], -1); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return softmax(transpose(in[0], 0, 1), 0); }, {x});
}
SPK_GRADCHECK_CASE(log_softmax, "(3,5,2) along dims 0 and 1") {
  Rng rng(1337);
  auto x = rand_input({3, 5, 2}, rng, -2, 2);
  gradcheck([](const std::vector<Tensor>& in) { return log_softmax(in[0], 0); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return log_softmax(in[0], 1); }, {x});
}
SPK_GRADCHECK_CASE(cross_entropy, "(5,7) logits, repeated labels") {
  Rng rng(1337);
  auto x = rand_input({5, 7}, rng, -3, 3);
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{6, 0, 3, 3, 1}, {5});
  gradcheck([labels](const std::vector<Tensor>& in) { return cross_entropy(in[0], labels); }, {x});
}
