#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

TEST_CASE("sum, mean, var, max against hand values") {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 5, 3, 4, 2, 6}, {2, 3}, DType::f64);
  test::expect_close(sum(x), {21}, 0, 0, "sum all");
  test::expect_close(sum(x, {0}), {5, 7, 9}, 0, 0, "sum dim 0");
  test::expect_close(sum(x, {1}, true), {9, 12}, 0, 0, "sum dim 1 keepdim");
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1});
  test::expect_close(mean(x, {-1}), {3, 4}, 0, 1e-15, "mean");
  test::expect_close(var(x, {1}), {4, 4}, 0, 1e-15, "unbiased var");
  test::expect_close(var(x, {1}, false), {8.0 / 3, 8.0 / 3}, 0, 1e-15, "biased var");
  auto [v, i] = max(x, 1);
  test::expect_close(v, {5, 6}, 0, 0, "max values");
  test::expect_close(i, {1, 2}, 0, 0, "max indices");
  test::expect_close(argmax(x, 0), {1, 0, 1}, 0, 0, "argmax dim 0");
  CHECK_THROWS_WITH_AS(sum(x, {2}), doctest::Contains("sum: dim 2 out of range"), Error);
}

TEST_CASE("sum over several non-adjacent dims") {
  Rng rng(3);
  Tensor x = Tensor::uniform({2, 3, 4, 5}, rng, -1, 1, DType::f64);
  auto v = x.to_double();
  std::vector<double> expect(3 * 5, 0.0);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c)
        for (int d = 0; d < 5; ++d) expect[size_t(b * 5 + d)] += v[size_t(((a * 3 + b) * 4 + c) * 5 + d)];
  test::expect_close(sum(x, {0, 2}), expect, 1e-14, 1e-14, "sum dims {0, 2}");
}

SPK_GRADCHECK_CASE(sum, "dims {0,2} of (2,3,4), keepdim and not") {
  Rng rng(1337);
  auto x = rand_input({2, 3, 4}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return sum(in[0], {0, 2}); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return sum(in[0], {1}, true); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return sum(in[0]); }, {x});
}
SPK_GRADCHECK_CASE(mean, "dims {-1} of (3,7)") {
  Rng rng(1337);
  gradcheck([](const std::vector<Tensor>& in) { return mean(in[0], {-1}); }, {rand_input({3, 7}, rng)});
}
SPK_GRADCHECK_CASE(var, "unbiased and biased over (2,5,3) dims {0,2}") {
  Rng rng(1337);
  auto x = rand_input({2, 5, 3}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return var(in[0], {0, 2}); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return var(in[0], {1}, false, true); }, {x});
}
SPK_GRADCHECK_CASE(max, "dim 1 of (3,6,2)") {
  Rng rng(1337);
  gradcheck([](const std::vector<Tensor>& in) { return max(in[0], 1).first; }, {rand_input({3, 6, 2}, rng)});
}
