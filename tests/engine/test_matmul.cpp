#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

// Naive reference: (B, M, K) @ (B, K, N) with plain loops in double.
static std::vector<double> ref_bmm(const Tensor& a, const Tensor& b, int64_t B, int64_t M, int64_t K, int64_t N) {
  auto va = a.contiguous().to_double(), vb = b.contiguous().to_double();
  std::vector<double> c(size_t(B * M * N), 0.0);
  for (int64_t z = 0; z < B; ++z)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += va[size_t((z * M + i) * K + k)] * vb[size_t((z * K + k) * N + j)];
        c[size_t((z * M + i) * N + j)] = s;
      }
  return c;
}

TEST_CASE("matmul matches loops for dense, transposed and broadcast operands") {
  Rng rng(5);
  Tensor a = Tensor::uniform({3, 4, 5}, rng, -1, 1, DType::f64), b = Tensor::uniform({3, 5, 2}, rng, -1, 1, DType::f64);
  test::expect_close(matmul(a, b), ref_bmm(a, b, 3, 4, 5, 2), 1e-14, 1e-13, "bmm");
  Tensor bt = Tensor::uniform({3, 2, 5}, rng, -1, 1, DType::f64);
  test::expect_close(matmul(a, transpose(bt, 1, 2)), ref_bmm(a, transpose(bt, 1, 2), 3, 4, 5, 2), 1e-14, 1e-13,
                     "bmm with a transposed view");
  Tensor w = Tensor::uniform({5, 2}, rng, -1, 1, DType::f64);
  test::expect_close(matmul(a, w), ref_bmm(a, expand(w, {3, 5, 2}), 3, 4, 5, 2), 1e-14, 1e-13, "batch @ shared matrix");
  Tensor a1 = Tensor::uniform({1, 4, 5}, rng, -1, 1, DType::f64);
  test::expect_close(matmul(a1, b), ref_bmm(expand(a1, {3, 4, 5}), b, 3, 4, 5, 2), 1e-14, 1e-13, "broadcast batch of a");
  Tensor af = a.to(DType::f32), bf = b.to(DType::f32);
  test::expect_close(matmul(af, bf), ref_bmm(a, b, 3, 4, 5, 2), 1e-6, 1e-5, "f32 sgemm");
  CHECK_THROWS_WITH_AS(matmul(a, a), doctest::Contains("matmul: inner dims differ"), Error);
}

TEST_CASE("linear is x W^T + b") {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}, DType::f64);
  Tensor w = Tensor::from_vector(std::vector<double>{1, 0, 1, 1, 0, 2}, {3, 2}, DType::f64);
  Tensor b = Tensor::from_vector(std::vector<double>{0.5, -1, 0}, {3}, DType::f64);
  test::expect_close(linear(x, w, b), {1.5, 2, 4, 3.5, 6, 8}, 0, 1e-15, "linear");
  CHECK_THROWS_WITH_AS(linear(x, transpose(w, 0, 1)), doctest::Contains("linear: input"), Error);
}

SPK_GRADCHECK_CASE(matmul, "batched, broadcast and transposed operands") {
  Rng rng(1337);
  auto a = rand_input({2, 3, 4}, rng), b = rand_input({2, 4, 5}, rng), w = rand_input({4, 5}, rng);
  auto a1 = rand_input({1, 3, 4}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
  gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, w});
  gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a1, b});
  gradcheck([](const std::vector<Tensor>& in) { return matmul(transpose(in[1], -1, -2), transpose(in[0], -1, -2)); }, {a, b});
}
SPK_GRADCHECK_CASE(linear, "(2,3,4) x (5,4) + (5)") {
  Rng rng(1337);
  auto x = rand_input({2, 3, 4}, rng), w = rand_input({5, 4}, rng), b = rand_input({5}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {x, w, b});
}
