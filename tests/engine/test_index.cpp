// Indexing: index_select and gather against plain loops and torch's documented example, scatter-add
// backward with repeated indices, gradient checks, and the out-of-range errors.
#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

static Tensor idx(const std::vector<int64_t>& v, const Shape& s) { return Tensor::from_vector(v, s); }

TEST_CASE("index_select against loops along every dim") {
  Rng rng(31);
  Tensor x = Tensor::uniform({2, 3, 4}, rng, -1, 1, DType::f64);
  auto xv = x.to_double();
  auto at = [&](int64_t a, int64_t b, int64_t c) { return xv[size_t((a * 3 + b) * 4 + c)]; };
  std::vector<int64_t> i1{2, 0, 2};
  std::vector<double> e1, e0, e2;
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t l = 0; l < 3; ++l)
      for (int64_t c = 0; c < 4; ++c) e1.push_back(at(a, i1[size_t(l)], c));
  Tensor y1 = index_select(x, 1, idx(i1, {3}));
  CHECK(y1.shape() == Shape{2, 3, 4});
  test::expect_close(y1, e1, 0, 0, "dim 1");
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t c = 0; c < 4; ++c) e0.push_back(at(1, b, c));
  test::expect_close(index_select(x, 0, idx({1}, {1})), e0, 0, 0, "dim 0");
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 3; ++b) { e2.push_back(at(a, b, 3)); e2.push_back(at(a, b, 1)); }
  test::expect_close(index_select(transpose(x, 0, 1), -1, idx({3, 1}, {2})).contiguous(),
                     permute(Tensor::from_vector(e2, {2, 3, 2}, DType::f64), {1, 0, 2}).contiguous(),
                     0, 0, "dim -1 of a transposed view");
  CHECK(index_select(x, 2, Tensor::zeros({0}, DType::i64)).shape() == Shape{2, 3, 0});
}

TEST_CASE("index_select backward sums repeated rows; errors name the bad value") {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {3, 2}, DType::f64).set_requires_grad(true);
  Tensor y = index_select(x, 0, idx({0, 2, 0}, {3}));
  test::expect_close(y, {1, 2, 5, 6, 1, 2}, 0, 0, "rows 0, 2, 0");
  y.backward(Tensor::from_vector(std::vector<double>{1, 10, 100, 1000, 2, 20}, {3, 2}, DType::f64));
  test::expect_close(x.grad(), {3, 30, 0, 0, 100, 1000}, 0, 0, "scatter-add");

  CHECK_THROWS_WITH_AS(index_select(x, 1, idx({0, 2}, {2})),
                       doctest::Contains("index_select: index 2 (element 1 of index i64(2) cpu) is out of range for dim 1 of size 2"),
                       Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, idx({-1}, {1})), doctest::Contains("index_select: index -1"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, Tensor::zeros({2})), doctest::Contains("index_select: index must be i64"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, idx({0, 1}, {1, 2})), doctest::Contains("index_select: index must be 1-d"),
                       Error);
}

TEST_CASE("gather: torch's example, loops on 3-d, strided x, backward and errors") {
  // torch.gather(torch.tensor([[1, 2], [3, 4]]), 1, torch.tensor([[0, 0], [1, 0]])) = [[1, 1], [4, 3]]
  Tensor t = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}, DType::f64);
  test::expect_close(gather(t, 1, idx({0, 0, 1, 0}, {2, 2})), {1, 1, 4, 3}, 0, 0, "torch example");
  test::expect_close(gather(t, 0, idx({1, 0}, {1, 2})), {3, 2}, 0, 0, "dim 0, fewer rows");

  Rng rng(37);
  Tensor x = Tensor::uniform({3, 4, 5}, rng, -1, 1, DType::f64);
  auto xv = x.to_double();
  // index (2, 4, 6) along dim 2: smaller than x in dim 0, longer than x in the gathered dim.
  std::vector<int64_t> iv;
  for (int k = 0; k < 2 * 4 * 6; ++k) iv.push_back((k * 7 + 3) % 5);
  std::vector<double> expect;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 6; ++k) expect.push_back(xv[size_t((i * 4 + j) * 5 + iv[size_t((i * 4 + j) * 6 + k)])]);
  test::expect_close(gather(x, 2, idx(iv, {2, 4, 6})), expect, 0, 0, "3-d dim 2");

  // Strided x: gather of a transposed view equals gather of its dense copy.
  Tensor xt = transpose(x, 0, 2);   // (5, 4, 3)
  Tensor i0 = idx({4, 0, 1, 2, 3, 4, 0, 0, 1, 2, 3, 4}, {1, 4, 3});
  test::expect_close(gather(xt, 0, i0), gather(xt.contiguous(), 0, i0), 0, 0, "transposed view");

  Tensor xg = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64).set_requires_grad(true);
  Tensor y = gather(xg, 1, idx({2, 2, 0, 1}, {2, 2}));
  test::expect_close(y, {3, 3, 4, 5}, 0, 0, "repeated index");
  y.backward(Tensor::from_vector(std::vector<double>{1, 10, 100, 1000}, {2, 2}, DType::f64));
  test::expect_close(xg.grad(), {0, 0, 11, 100, 1000, 0}, 0, 0, "scatter-add backward");

  CHECK_THROWS_WITH_AS(gather(t, 1, idx({0, 5}, {1, 2})),
                       doctest::Contains("gather: index 5 (element 1 of index i64(1, 2) cpu) is out of range for dim 1 of size 2"),
                       Error);
  CHECK_THROWS_WITH_AS(gather(t, 1, idx({0, 1}, {2})), doctest::Contains("gather: index i64(2) cpu must have the rank of x"),
                       Error);
  CHECK_THROWS_WITH_AS(gather(t, 1, idx({0, 0, 0}, {3, 1})), doctest::Contains("gather: index i64(3, 1) cpu is larger than x"),
                       Error);
  CHECK_THROWS_WITH_AS(gather(t, 2, idx({0}, {1, 1})), doctest::Contains("gather: dim 2 out of range"), Error);
}

// ---- gradient checks ----
SPK_GRADCHECK_CASE(index_select, "(3,5,2) dim 1 with repeats, dim 0 of a transposed view") {
  Rng rng(1337);
  auto x = rand_input({3, 5, 2}, rng);
  Tensor i = idx({4, 1, 4, 0}, {4});
  gradcheck([i](const std::vector<Tensor>& in) { return index_select(in[0], 1, i); }, {x});
  gradcheck([i](const std::vector<Tensor>& in) { return index_select(transpose(in[0], 0, 1), 0, i); }, {x});
}
SPK_GRADCHECK_CASE(gather, "(3,4,5) along dims 2 and 0 with repeats") {
  Rng rng(1337);
  auto x = rand_input({3, 4, 5}, rng);
  std::vector<int64_t> a, b;
  for (int k = 0; k < 2 * 3 * 7; ++k) a.push_back((k * 3 + 1) % 5);
  for (int k = 0; k < 4 * 2 * 5; ++k) b.push_back((k * 5 + 2) % 3);
  Tensor ia = idx(a, {2, 3, 7}), ib = idx(b, {4, 2, 5});
  gradcheck([ia](const std::vector<Tensor>& in) { return gather(in[0], 2, ia); }, {x});
  gradcheck([ib](const std::vector<Tensor>& in) { return gather(in[0], 0, ib); }, {x});
}
