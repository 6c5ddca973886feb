// Normalisation ops: batch_norm (training with batch statistics and the running-stat update, eval with the
// running statistics), instance_norm1d, layer_norm and l2_normalize, against plain loops and hand-worked numbers;
// gradient checks; error messages.
#include <cmath>

#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

namespace {

// Per-channel mean and biased variance of a dense (N, C, S) buffer, by loops.
void loop_channel_stats(const std::vector<double>& x, int64_t N, int64_t C, int64_t S, std::vector<double>& mean,
                        std::vector<double>& var) {
  mean.assign(size_t(C), 0.0);
  var.assign(size_t(C), 0.0);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) mean[size_t(c)] += x[size_t((n * C + c) * S + s)];
    mean[size_t(c)] /= double(N * S);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        double d = x[size_t((n * C + c) * S + s)] - mean[size_t(c)];
        var[size_t(c)] += d * d;
      }
    var[size_t(c)] /= double(N * S);
  }
}

// y = (x − mean[c]) / sqrt(var[c] + eps) · w[c] + b[c] over a dense (N, C, S) buffer.
std::vector<double> loop_affine_norm(const std::vector<double>& x, int64_t N, int64_t C, int64_t S,
                                     const std::vector<double>& mean, const std::vector<double>& var,
                                     const std::vector<double>& w, const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t s = 0; s < S; ++s) {
        size_t k = size_t((n * C + c) * S + s);
        y[k] = (x[k] - mean[size_t(c)]) / std::sqrt(var[size_t(c)] + eps) * (w.empty() ? 1.0 : w[size_t(c)]) +
               (b.empty() ? 0.0 : b[size_t(c)]);
      }
  return y;
}

Tensor vec(const std::vector<double>& v) { return Tensor::from_vector(v, {int64_t(v.size())}, DType::f64); }

}  // namespace

TEST_CASE("batch_norm hand-worked: (4, 1) training and the running-stat update") {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {4, 1}, DType::f64);
  Tensor rm = vec({0}), rv = vec({1});
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true);   // momentum 0.1, eps 1e-5
  // mean 2.5, biased var 1.25, unbiased var 5/3.
  const double is = 1 / std::sqrt(1.25 + 1e-5);
  test::expect_close(y, {-1.5 * is, -0.5 * is, 0.5 * is, 1.5 * is}, 0, 1e-14, "normalised");
  test::expect_close(rm, {0.25}, 0, 1e-15, "running_mean = 0.9·0 + 0.1·2.5");
  test::expect_close(rv, {0.9 + 0.1 * 5.0 / 3.0}, 0, 1e-15, "running_var = 0.9·1 + 0.1·(5/3)");
}

TEST_CASE("batch_norm (N, C, H, W) training and eval against loops") {
  Rng rng(17);
  const int64_t N = 2, C = 3, S = 2 * 3;
  Tensor x = Tensor::uniform({N, C, 2, 3}, rng, -2, 3, DType::f64);
  std::vector<double> w{0.5, -1.5, 2}, b{0.1, 0.2, -0.3}, rm0{0.5, -1, 2}, rv0{1, 2, 0.5};
  Tensor rm = vec(rm0), rv = vec(rv0);
  const double momentum = 0.2, eps = 1e-3;
  auto xv = x.to_double();
  std::vector<double> mean, var;
  loop_channel_stats(xv, N, C, S, mean, var);

  Tensor y = batch_norm(x, vec(w), vec(b), rm, rv, true, momentum, eps);
  test::expect_close(y, loop_affine_norm(xv, N, C, S, mean, var, w, b, eps), 1e-14, 1e-13, "training forward");
  std::vector<double> erm, erv;
  for (size_t c = 0; c < 3; ++c) {
    erm.push_back((1 - momentum) * rm0[c] + momentum * mean[c]);
    erv.push_back((1 - momentum) * rv0[c] + momentum * var[c] * double(N * S) / double(N * S - 1));
  }
  test::expect_close(rm, erm, 0, 1e-14, "running_mean updated");
  test::expect_close(rv, erv, 0, 1e-14, "running_var updated with the unbiased variance");

  // Eval: the running statistics normalise, and stay as they are.
  Tensor ye = batch_norm(x, vec(w), vec(b), rm, rv, false, momentum, eps);
  test::expect_close(ye, loop_affine_norm(xv, N, C, S, erm, erv, w, b, eps), 1e-14, 1e-13, "eval forward");
  test::expect_close(rm, erm, 0, 0, "eval leaves running_mean");
  test::expect_close(rv, erv, 0, 0, "eval leaves running_var");

  // No affine, no running stats (track_running_stats=False), f32, a (N, C) input.
  Tensor x2 = Tensor::uniform({5, 4}, rng, -1, 1);
  std::vector<double> m2, v2;
  loop_channel_stats(x2.to_double(), 5, 4, 1, m2, v2);
  test::expect_close(batch_norm(x2, Tensor(), Tensor(), Tensor(), Tensor(), true),
                     loop_affine_norm(x2.to_double(), 5, 4, 1, m2, v2, {}, {}, 1e-5), 1e-5, 1e-5, "(N, C) f32");
}

TEST_CASE("batch_norm errors") {
  Tensor x = Tensor::zeros({2, 3, 4}, DType::f64);
  CHECK_THROWS_WITH_AS(batch_norm(x, vec({1, 1}), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm: weight f64(2) cpu does not match the 3 channels"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false),
                       doctest::Contains("batch_norm: eval mode needs running_mean and running_var"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(Tensor::zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("expected more than 1 value per channel when training"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(Tensor::zeros({3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm: input must be (N, C) or (N, C, *)"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor::ones({3}), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("has another dtype"), Error);
}

TEST_CASE("instance_norm1d against loops, with and without affine") {
  Rng rng(19);
  const int64_t N = 2, C = 3, T = 5;
  Tensor x = Tensor::uniform({N, C, T}, rng, -2, 4, DType::f64);
  auto xv = x.to_double();
  std::vector<double> w{2, -1, 0.5}, b{1, 0, -1};
  for (bool affine : {false, true}) {
    std::vector<double> y(xv.size());
    for (int64_t r = 0; r < N * C; ++r) {
      double m = 0, v = 0;
      for (int64_t t = 0; t < T; ++t) m += xv[size_t(r * T + t)] / double(T);
      for (int64_t t = 0; t < T; ++t) v += (xv[size_t(r * T + t)] - m) * (xv[size_t(r * T + t)] - m) / double(T);
      size_t c = size_t(r % C);
      for (int64_t t = 0; t < T; ++t)
        y[size_t(r * T + t)] = (xv[size_t(r * T + t)] - m) / std::sqrt(v + 1e-5) * (affine ? w[c] : 1) + (affine ? b[c] : 0);
    }
    Tensor got = affine ? instance_norm1d(x, vec(w), vec(b)) : instance_norm1d(x);
    test::expect_close(got, y, 1e-14, 1e-13, affine ? "affine" : "no affine");
  }
  CHECK_THROWS_WITH_AS(instance_norm1d(Tensor::zeros({2, 3})), doctest::Contains("instance_norm1d: input must be (N, C, T)"),
                       Error);
  CHECK_THROWS_WITH_AS(instance_norm1d(Tensor::zeros({2, 3, 1})), doctest::Contains("more than 1 spatial element"),
                       Error);
  CHECK_THROWS_WITH_AS(instance_norm1d(x, vec({1, 2})), doctest::Contains("instance_norm1d: weight"), Error);
}

TEST_CASE("layer_norm against loops over the last dim, with and without affine; 1-d and 3-d inputs") {
  Rng rng(23);
  const int64_t R = 6, D = 5;
  Tensor x = Tensor::uniform({2, 3, D}, rng, -2, 4, DType::f64);
  auto xv = x.to_double();
  std::vector<double> w{2, -1, 0.5, 1.5, 3}, b{1, 0, -1, 0.25, 2};
  for (bool affine : {false, true}) {
    std::vector<double> y(xv.size());
    for (int64_t r = 0; r < R; ++r) {
      double m = 0, v = 0;
      for (int64_t d = 0; d < D; ++d) m += xv[size_t(r * D + d)] / double(D);
      for (int64_t d = 0; d < D; ++d) v += (xv[size_t(r * D + d)] - m) * (xv[size_t(r * D + d)] - m) / double(D);
      for (int64_t d = 0; d < D; ++d)
        y[size_t(r * D + d)] = (xv[size_t(r * D + d)] - m) / std::sqrt(v + 1e-5) * (affine ? w[size_t(d)] : 1) +
                               (affine ? b[size_t(d)] : 0);
    }
    Tensor got = affine ? layer_norm(x, vec(w), vec(b)) : layer_norm(x);
    CHECK(got.shape() == x.shape());
    test::expect_close(got, y, 1e-14, 1e-13, affine ? "affine" : "no affine");
  }
  // A single row (1-d input) and a strided (transposed) input.
  test::expect_close(layer_norm(vec({1, 3})), {-1 / std::sqrt(1 + 1e-5), 1 / std::sqrt(1 + 1e-5)}, 0, 1e-15, "1-d");
  Tensor xt = transpose(Tensor::uniform({4, 3}, rng, -1, 1, DType::f64), 0, 1);
  test::expect_close(layer_norm(xt), layer_norm(xt.contiguous()).to_double(), 0, 0, "strided input");
  CHECK_THROWS_WITH_AS(layer_norm(x, vec({1, 2})), doctest::Contains("layer_norm: weight f64(2) cpu does not match"),
                       Error);
  CHECK_THROWS_WITH_AS(layer_norm(Tensor::zeros({3, 0})), doctest::Contains("layer_norm: the normalised (last) dim"),
                       Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, Tensor::ones({D})), doctest::Contains("has another dtype"), Error);
}

TEST_CASE("l2_normalize against loops; tiny and zero rows") {
  Tensor x = Tensor::from_vector(std::vector<double>{3, 4, 0, -1, 2, 2}, {2, 3}, DType::f64);
  test::expect_close(l2_normalize(x), {0.6, 0.8, 0, -1.0 / 3, 2.0 / 3, 2.0 / 3}, 0, 1e-15, "rows");
  const double c0 = std::sqrt(10.0), c1 = std::sqrt(20.0), c2 = 2.0;
  test::expect_close(l2_normalize(x, 0), {3 / c0, 4 / c1, 0 / c2, -1 / c0, 2 / c1, 2 / c2}, 0, 1e-15, "columns");
  // A row shorter than eps is divided by eps (torch.nn.functional.normalize).
  Tensor tiny = Tensor::from_vector(std::vector<double>{3e-13, 4e-13}, {1, 2}, DType::f64);
  test::expect_close(l2_normalize(tiny), {0.3, 0.4}, 0, 1e-12, "norm below eps");
  // An all-zero row: output 0, gradient finite (1/eps on the diagonal), never NaN.
  Tensor z = Tensor::zeros({1, 3}, DType::f64).set_requires_grad(true);
  Tensor yz = l2_normalize(z);
  test::expect_close(yz, {0, 0, 0}, 0, 0, "zero row");
  sum(yz).backward();
  test::expect_close(z.grad(), {1e12, 1e12, 1e12}, 0, 1e-12, "zero row gradient = 1/eps");
}

// ---- gradient checks ----
SPK_GRADCHECK_CASE(batch_norm, "training (5,3) affine, (3,2,2,3) with running stats, (2,3,4) plain; eval") {
  Rng rng(1337);
  auto x = rand_input({5, 3}, rng), w = rand_input({3}, rng, 0.5, 2), b = rand_input({3}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true); },
            {x, w, b});
  Tensor rm = Tensor::zeros({2}, DType::f64), rv = Tensor::ones({2}, DType::f64);
  auto x4 = rand_input({3, 2, 2, 3}, rng), w2 = rand_input({2}, rng, 0.5, 2), b2 = rand_input({2}, rng);
  gradcheck([rm, rv](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], rm, rv, true, 0.3); },
            {x4, w2, b2});
  gradcheck([](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
            {rand_input({2, 3, 4}, rng)});
  Tensor erm = Tensor::uniform({2}, rng, -1, 1, DType::f64), erv = Tensor::uniform({2}, rng, 0.5, 2, DType::f64);
  gradcheck([erm, erv](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], erm, erv, false); },
            {x4, w2, b2});
}
SPK_GRADCHECK_CASE(instance_norm1d, "(2,3,5) affine and (3,2,4) plain") {
  Rng rng(1337);
  auto x = rand_input({2, 3, 5}, rng), w = rand_input({3}, rng, 0.5, 2), b = rand_input({3}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return instance_norm1d(in[0], in[1], in[2]); }, {x, w, b});
  gradcheck([](const std::vector<Tensor>& in) { return instance_norm1d(in[0]); }, {rand_input({3, 2, 4}, rng)});
}
SPK_GRADCHECK_CASE(layer_norm, "(2,3,5) affine, (4,6) plain, (7) weight only") {
  Rng rng(1337);
  auto x = rand_input({2, 3, 5}, rng), w = rand_input({5}, rng, 0.5, 2), b = rand_input({5}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2]); }, {x, w, b});
  gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0]); }, {rand_input({4, 6}, rng)});
  gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1]); },
            {rand_input({7}, rng), rand_input({7}, rng, -2, 2)});
}
SPK_GRADCHECK_CASE(l2_normalize, "(4,5) along dims -1 and 0") {
  Rng rng(1337);
  auto x = rand_input({4, 5}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return l2_normalize(in[0]); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return l2_normalize(in[0], 0); }, {x});
}
