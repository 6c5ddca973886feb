// Similarity matrices: cosine_matrix and euclidean_matrix against plain loops, the eps rule of the cosine,
// the zero-distance gradient of the euclidean matrix, gradient checks, and error messages.
#include <cmath>

#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

namespace {

// f(a_i, b_j) over all pairs of rows of dense (N, D) and (M, D) buffers.
template <class F>
std::vector<double> pairwise(const Tensor& a, const Tensor& b, F f) {
  auto av = a.to_double(), bv = b.to_double();
  const int64_t N = a.size(0), M = b.size(0), D = a.size(1);
  std::vector<double> out;
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < M; ++j) out.push_back(f(&av[size_t(i * D)], &bv[size_t(j * D)], D));
  return out;
}

double dot(const double* x, const double* y, int64_t D) {
  double s = 0;
  for (int64_t k = 0; k < D; ++k) s += x[k] * y[k];
  return s;
}

}  // namespace

TEST_CASE("cosine_matrix against loops, with a zero row and the product-of-norms eps rule") {
  Rng rng(23);
  Tensor a = Tensor::uniform({3, 4}, rng, -1, 1, DType::f64);
  Tensor b = concat({Tensor::uniform({4, 4}, rng, -1, 1, DType::f64), Tensor::zeros({1, 4}, DType::f64)}, 0);  // (5, 4)
  auto expect = pairwise(a, b, [](const double* x, const double* y, int64_t D) {
    return dot(x, y, D) / std::max(std::sqrt(dot(x, x, D)) * std::sqrt(dot(y, y, D)), 1e-8);
  });
  Tensor cm = cosine_matrix(a, b);
  CHECK(cm.shape() == Shape{3, 5});
  test::expect_close(cm, expect, 1e-15, 1e-13, "cosine vs loops (last column: zero row -> 0)");
  // ||a||·||b|| = 1e-10 < eps = 1e-8: a·b / eps = 1e-10 / 1e-8.
  Tensor s = Tensor::from_vector(std::vector<double>{1e-5, 0}, {1, 2}, DType::f64);
  test::expect_close(cosine_matrix(s, s), {0.01}, 0, 1e-12, "eps on the product of the norms");
  // Gradient through an all-zero row is finite.
  Tensor bz = b.detach().set_requires_grad(true);
  sum(cosine_matrix(a, bz)).backward();
  for (double g : bz.grad().to_double()) CHECK(std::isfinite(g));
}

TEST_CASE("euclidean_matrix against loops; zero distances have zero gradient") {
  Rng rng(29);
  Tensor a = Tensor::uniform({3, 4}, rng, -1, 1, DType::f64), b = Tensor::uniform({5, 4}, rng, -1, 1, DType::f64);
  auto dist = [](const double* x, const double* y, int64_t D) {
    double s = 0;
    for (int64_t k = 0; k < D; ++k) s += (x[k] - y[k]) * (x[k] - y[k]);
    return std::sqrt(s);
  };
  test::expect_close(euclidean_matrix(a, b), pairwise(a, b, dist), 1e-14, 1e-12, "euclidean vs loops");
  test::expect_close(euclidean_matrix(a.to(DType::f32), b.to(DType::f32)), pairwise(a, b, dist), 1e-5, 1e-5, "f32");

  // Integer coordinates, so a0 = b0 gives a distance of exactly 0 through the matmul formula.
  Tensor ai = Tensor::from_vector(std::vector<double>{1, 2, 2, 0, 1, 0}, {2, 3}, DType::f64).set_requires_grad(true);
  Tensor bi = Tensor::from_vector(std::vector<double>{1, 2, 2, 3, 0, 4}, {2, 3}, DType::f64).set_requires_grad(true);
  Tensor d = euclidean_matrix(ai, bi);
  // |a0-b1| = |(-2,2,-2)| = √12, |a1-b0| = |(-1,-1,-2)| = √6, |a1-b1| = |(-3,1,-4)| = √26.
  test::expect_close(d, {0, std::sqrt(12.0), std::sqrt(6.0), std::sqrt(26.0)}, 0, 1e-15, "integer points");
  sum(d).backward();
  // d/da_i Σ_j |a_i − b_j| = Σ_{j: d_ij > 0} (a_i − b_j)/d_ij; the zero pair contributes nothing.
  const double r12 = std::sqrt(12.0), r6 = std::sqrt(6.0), r26 = std::sqrt(26.0);
  test::expect_close(ai.grad(), {-2 / r12, 2 / r12, -2 / r12, -1 / r6 - 3 / r26, -1 / r6 + 1 / r26, -2 / r6 - 4 / r26},
                     0, 1e-14, "grad a");
  test::expect_close(bi.grad(), {1 / r6, 1 / r6, 2 / r6, 2 / r12 + 3 / r26, -2 / r12 - 1 / r26, 2 / r12 + 4 / r26}, 0,
                     1e-14, "grad b");

  CHECK_THROWS_WITH_AS(euclidean_matrix(a, Tensor::zeros({5, 3}, DType::f64)),
                       doctest::Contains("euclidean_matrix: expected a (N, D) and b (M, D)"), Error);
  CHECK_THROWS_WITH_AS(cosine_matrix(Tensor::zeros({4}), Tensor::zeros({2, 4})),
                       doctest::Contains("cosine_matrix: expected a (N, D) and b (M, D)"), Error);
  CHECK_THROWS_WITH_AS(cosine_matrix(a, b.to(DType::f32)), doctest::Contains("differ in device or dtype"), Error);
}

// ---- gradient checks ----
SPK_GRADCHECK_CASE(cosine_matrix, "(3,4) vs (5,4), and a matrix against itself") {
  Rng rng(1337);
  auto a = rand_input({3, 4}, rng), b = rand_input({5, 4}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return cosine_matrix(in[0], in[1]); }, {a, b});
  gradcheck([](const std::vector<Tensor>& in) { return cosine_matrix(in[0], in[0]); }, {a});
}
SPK_GRADCHECK_CASE(euclidean_matrix, "(3,4) vs (5,4), and a transposed view") {
  Rng rng(1337);
  auto a = rand_input({3, 4}, rng), b = rand_input({5, 4}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return euclidean_matrix(in[0], in[1]); }, {a, b});
  gradcheck([](const std::vector<Tensor>& in) { return euclidean_matrix(transpose(in[0], 0, 1), in[1]); },
            {rand_input({4, 3}, rng), rand_input({2, 4}, rng)});
}
