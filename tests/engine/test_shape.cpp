#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

TEST_CASE("views share storage and keep values") {
  Tensor x = Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {2, 3}, DType::f64);
  Tensor t = transpose(x, 0, 1);
  CHECK(t.shape() == Shape{3, 2});
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.data_ptr() == x.data_ptr());
  test::expect_close(t, {0, 3, 1, 4, 2, 5}, 0, 0, "transpose");
  test::expect_close(slice(x, 1, 1, 3), {1, 2, 4, 5}, 0, 0, "slice");
  test::expect_close(slice(x, 1, 0, 3, 2), {0, 2, 3, 5}, 0, 0, "slice step 2");
  test::expect_close(slice(x, -1, -2, 100), {1, 2, 4, 5}, 0, 0, "negative start, end past the end");
  test::expect_close(reshape(t, {-1}), {0, 3, 1, 4, 2, 5}, 0, 0, "reshape of a view copies");
  test::expect_close(expand(Tensor::from_vector(std::vector<double>{7, 8}, {2, 1}, DType::f64), {2, 3}),
                     {7, 7, 7, 8, 8, 8}, 0, 0, "expand");
  test::expect_close(concat({x, x}, 1), {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}, 0, 0, "concat dim 1");
  auto parts = split(x, {1, 2}, 1);
  test::expect_close(parts[1], {1, 2, 4, 5}, 0, 0, "split");
  CHECK(unsqueeze(x, 1).shape() == Shape{2, 1, 3});
  CHECK(flatten(unsqueeze(x, 0), 0, 1).shape() == Shape{2, 3});
  CHECK_THROWS_WITH_AS(reshape(x, {4, 2}), doctest::Contains("reshape: cannot reshape f64(2, 3)"), Error);
  CHECK_THROWS_WITH_AS(concat({x, Tensor::zeros({3, 3}, DType::f64)}, 1), doctest::Contains("concat: tensor 1"), Error);
  CHECK_THROWS_WITH_AS(squeeze(x, 0), doctest::Contains("squeeze: dim 0"), Error);
}

SPK_GRADCHECK_CASE(reshape, "(2,3,4) -> (4,-1) and through a transpose") {
  Rng rng(1337);
  auto x = rand_input({2, 3, 4}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return reshape(in[0], {4, -1}); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return reshape(transpose(in[0], 0, 2), {-1}); }, {x});
}
SPK_GRADCHECK_CASE(permute, "(2,3,4) by (2,0,1)") {
  Rng rng(1337);
  gradcheck([](const std::vector<Tensor>& in) { return mul(permute(in[0], {2, 0, 1}), permute(in[0], {2, 0, 1})); },
            {rand_input({2, 3, 4}, rng)});
}
SPK_GRADCHECK_CASE(transpose, "(3,5)") {
  Rng rng(1337);
  gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], 0, 1); }, {rand_input({3, 5}, rng)});
}
SPK_GRADCHECK_CASE(slice, "dim 1 [1:6:2] of (3,7)") {
  Rng rng(1337);
  gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 1, 1, 6, 2); }, {rand_input({3, 7}, rng)});
}
SPK_GRADCHECK_CASE(expand, "(3,1) -> (2,3,4)") {
  Rng rng(1337);
  gradcheck([](const std::vector<Tensor>& in) { return expand(in[0], {2, 3, 4}); }, {rand_input({3, 1}, rng)});
}
SPK_GRADCHECK_CASE(contiguous, "of a transpose") {
  Rng rng(1337);
  gradcheck([](const std::vector<Tensor>& in) { return contiguous(transpose(in[0], 0, 1)); }, {rand_input({3, 4}, rng)});
}
SPK_GRADCHECK_CASE(concat, "three tensors along dim 1") {
  Rng rng(1337);
  auto a = rand_input({2, 1, 3}, rng), b = rand_input({2, 4, 3}, rng), c = rand_input({2, 2, 3}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return concat(in, 1); }, {a, b, c});
}
