// Pooling: forwards against direct loops written here (padding, strides, odd sizes, adaptive bins that
// overlap), hand-worked max-pool gradients with ties, finite-difference gradient checks in double for
// every pool op, and the error messages for bad windows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

namespace {

struct PoolCfg {
  int64_t N, C, H, W, KH, KW, sh, sw, ph, pw;
  std::string name() const {
    return "x(" + std::to_string(N) + "," + std::to_string(C) + "," + std::to_string(H) + "," + std::to_string(W) +
           ") k(" + std::to_string(KH) + "," + std::to_string(KW) + ") s(" + std::to_string(sh) + "," +
           std::to_string(sw) + ") p(" + std::to_string(ph) + "," + std::to_string(pw) + ")";
  }
  int64_t Ho() const { return (H + 2 * ph - KH) / sh + 1; }
  int64_t Wo() const { return (W + 2 * pw - KW) / sw + 1; }
};

// Direct max or average pool; the padded cells are −inf (max) or 0 counted in the divisor (avg).
std::vector<double> pool_loops(const PoolCfg& c, const std::vector<double>& x, bool is_max) {
  std::vector<double> y;
  for (int64_t pl = 0; pl < c.N * c.C; ++pl)
    for (int64_t oh = 0; oh < c.Ho(); ++oh)
      for (int64_t ow = 0; ow < c.Wo(); ++ow) {
        double m = -std::numeric_limits<double>::infinity(), s = 0;
        for (int64_t kh = 0; kh < c.KH; ++kh)
          for (int64_t kw = 0; kw < c.KW; ++kw) {
            const int64_t h = oh * c.sh - c.ph + kh, w = ow * c.sw - c.pw + kw;
            const bool in = h >= 0 && h < c.H && w >= 0 && w < c.W;
            const double v = in ? x[size_t((pl * c.H + h) * c.W + w)] : (is_max ? m : 0.0);
            m = std::max(m, v);
            s += v;
          }
        y.push_back(is_max ? m : s / double(c.KH * c.KW));
      }
  return y;
}

// Adaptive average with bins [floor(i·H/OH), ceil((i+1)·H/OH)), computed with floating point floor/ceil.
std::vector<double> adaptive_loops(int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                   const std::vector<double>& x) {
  std::vector<double> y;
  for (int64_t pl = 0; pl < NC; ++pl)
    for (int64_t i = 0; i < OH; ++i)
      for (int64_t j = 0; j < OW; ++j) {
        const auto h0 = int64_t(std::floor(double(i * H) / double(OH))), h1 = int64_t(std::ceil(double((i + 1) * H) / double(OH)));
        const auto w0 = int64_t(std::floor(double(j * W) / double(OW))), w1 = int64_t(std::ceil(double((j + 1) * W) / double(OW)));
        double s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += x[size_t((pl * H + h) * W + w)];
        y.push_back(s / double((h1 - h0) * (w1 - w0)));
      }
  return y;
}

const std::vector<PoolCfg> kCfgs = {
    {2, 3, 7, 9, 3, 3, 2, 2, 1, 1},     // the VGG/ResNet stem pool: 3×3 stride 2 pad 1, odd sizes
    {1, 2, 6, 8, 2, 2, 2, 2, 0, 0},     // non-overlapping 2×2
    {2, 2, 5, 11, 1, 3, 1, 2, 0, 1},    // VGGVox's (1,3) stride (1,2), with padding
    {1, 3, 10, 7, 5, 1, 5, 1, 0, 0},    // ResNetSE34L-TDNN's (5,1) average over frequency
    {2, 1, 5, 5, 5, 5, 1, 1, 2, 2},     // window = input, padding 2: every window partly padded
    {3, 4, 40, 50, 3, 3, 2, 2, 1, 1},   // large enough to thread over planes
};

}  // namespace

TEST_CASE("max_pool2d and avg_pool2d match direct loops") {
  for (const auto& c : kCfgs)
    for (DType dt : {DType::f64, DType::f32}) {
      SUBCASE((c.name() + (dt == DType::f32 ? " f32" : " f64")).c_str()) {
        Rng rng(1337);
        Tensor x = Tensor::uniform({c.N, c.C, c.H, c.W}, rng, -1, 1, dt);
        const auto xs = x.to_double();
        Tensor ym = max_pool2d(x, {c.KH, c.KW}, {c.sh, c.sw}, {c.ph, c.pw});
        Tensor ya = avg_pool2d(x, {c.KH, c.KW}, {c.sh, c.sw}, {c.ph, c.pw});
        REQUIRE(ym.shape() == Shape{c.N, c.C, c.Ho(), c.Wo()});
        test::expect_close(ym, pool_loops(c, xs, true), 0, 0, "max");
        test::expect_close(ya, pool_loops(c, xs, false), 1e-6, 1e-6, "avg");
      }
    }
}

TEST_CASE("max_pool1d and avg_pool1d match direct loops") {
  const std::vector<PoolCfg> cfgs = {{2, 3, 1, 11, 1, 3, 1, 2, 0, 1}, {1, 2, 1, 8, 1, 2, 1, 2, 0, 0},
                                     {2, 2, 1, 9, 1, 4, 1, 1, 0, 2}, {2, 8, 1, 5000, 1, 3, 1, 3, 0, 1}};
  for (const auto& c : cfgs)
    SUBCASE(c.name().c_str()) {
      Rng rng(1337);
      Tensor x = Tensor::uniform({c.N, c.C, c.W}, rng, -1, 1, DType::f64);
      const auto xs = x.to_double();
      Tensor ym = max_pool1d(x, c.KW, c.sw, c.pw), ya = avg_pool1d(x, c.KW, c.sw, c.pw);
      REQUIRE(ym.shape() == Shape{c.N, c.C, c.Wo()});
      test::expect_close(ym, pool_loops(c, xs, true), 0, 0, "max");
      test::expect_close(ya, pool_loops(c, xs, false), 1e-14, 1e-13, "avg");
    }
  // stride 0 means stride = kernel
  Tensor x = Tensor::from_vector(std::vector<double>{1, 5, 2, 3, 0, 4}, {1, 1, 6}, DType::f64);
  test::expect_close(max_pool1d(x, 2), {5, 3, 4}, 0, 0, "default stride");
  test::expect_close(avg_pool1d(x, 3), {8.0 / 3, 7.0 / 3}, 0, 1e-15, "default stride");
}

TEST_CASE("adaptive_avg_pool2d matches PyTorch's bins") {
  struct A { int64_t N, C, H, W, OH, OW; };
  for (A a : {A{2, 3, 5, 7, 3, 2}, A{1, 2, 8, 6, 4, 3}, A{1, 1, 3, 4, 5, 7}, A{2, 2, 9, 13, 1, 1}, A{2, 4, 40, 51, 3, 5}})
    SUBCASE(("(" + std::to_string(a.H) + "," + std::to_string(a.W) + ") -> (" + std::to_string(a.OH) + "," +
             std::to_string(a.OW) + ")").c_str()) {
      Rng rng(1337);
      Tensor x = Tensor::uniform({a.N, a.C, a.H, a.W}, rng, -1, 1, DType::f64);
      Tensor y = adaptive_avg_pool2d(x, {a.OH, a.OW});
      REQUIRE(y.shape() == Shape{a.N, a.C, a.OH, a.OW});
      test::expect_close(y, adaptive_loops(a.N * a.C, a.H, a.W, a.OH, a.OW, x.to_double()), 1e-15, 1e-13, "adaptive");
    }
  // H = 5 into 3 bins: rows [0,2), [1,4), [3,5) — the middle bin overlaps both neighbours.
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5}, {1, 1, 5, 1}, DType::f64);
  test::expect_close(adaptive_avg_pool2d(x, {3, 1}), {1.5, 3, 4.5}, 0, 1e-15, "overlapping bins");
}

TEST_CASE("max pool gradient goes to the first maximum, and piles up where windows overlap") {
  // Ties: a constant row; each window's gradient lands on its first (leftmost) element.
  Tensor x = Tensor::full({1, 1, 1, 5}, 2.0, DType::f64).set_requires_grad();
  sum(max_pool2d(x, {1, 3}, {1, 1})).backward();   // windows start at 0, 1, 2
  test::expect_close(x.grad(), {1, 1, 1, 0, 0}, 0, 0, "ties");
  // One big value seen by three overlapping windows collects all three gradients.
  Tensor z = Tensor::from_vector(std::vector<double>{0, 1, 9, 1, 0}, {1, 1, 5}, DType::f64).set_requires_grad();
  sum(max_pool1d(z, 3, 1, 1)).backward();          // 5 windows, padded with −inf at both ends
  test::expect_close(z.grad(), {0, 1, 3, 1, 0}, 0, 0, "overlapping windows");
}

TEST_CASE("max pool propagates NaN like PyTorch") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = Tensor::from_vector(std::vector<double>{1, nan, 3, 4, 2, 0}, {1, 1, 6}, DType::f64).set_requires_grad();
  Tensor y = max_pool1d(x, 3);
  auto v = y.to_double();
  CHECK(std::isnan(v[0]));
  CHECK(v[1] == 4);
  sum(y).backward();   // the NaN window's gradient goes to the NaN
  test::expect_close(x.grad(), {0, 1, 0, 1, 0, 0}, 0, 0, "grad");
}

// ---- finite-difference gradient checks (double, small odd shapes; max pool inputs have no ties) ----

SPK_GRADCHECK_CASE(max_pool2d, "3x3 s2 p1 and (1,3) s(1,2) on odd shapes") {
  Rng rng(1337);
  auto x = rand_input({2, 2, 5, 7}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return max_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return max_pool2d(in[0], {1, 3}, {1, 2}); }, {x});
}

SPK_GRADCHECK_CASE(max_pool1d, "k3 s2 p1, k2 default stride") {
  Rng rng(1337);
  auto x = rand_input({2, 3, 9}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return max_pool1d(in[0], 3, 2, 1); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return max_pool1d(in[0], 2); }, {x});
}

SPK_GRADCHECK_CASE(avg_pool2d, "3x3 s2 p1 (padding counted) and (5,1)") {
  Rng rng(1337);
  auto x = rand_input({2, 2, 5, 7}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {3, 3}, {2, 2}, {1, 1}); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return avg_pool2d(in[0], {5, 1}, {1, 1}); }, {x});
}

SPK_GRADCHECK_CASE(avg_pool1d, "k4 s3 p2, k3 default stride") {
  Rng rng(1337);
  auto x = rand_input({2, 3, 10}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return avg_pool1d(in[0], 4, 3, 2); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return avg_pool1d(in[0], 3); }, {x});
}

SPK_GRADCHECK_CASE(adaptive_avg_pool2d, "(5,7) -> (3,2) overlapping bins, (3,4) -> (4,5) upsampling") {
  Rng rng(1337);
  auto x = rand_input({2, 2, 5, 7}, rng), z = rand_input({1, 2, 3, 4}, rng);
  gradcheck([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {3, 2}); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {4, 5}); }, {z});
}

TEST_CASE("pool errors name the op and the shapes") {
  Tensor x = Tensor::zeros({2, 3, 8, 8});
  CHECK_THROWS_WITH_AS(max_pool2d(x, {3, 3}, {1, 1}, {2, 0}),
                       doctest::Contains("max_pool2d: padding along H must be in [0, kernel/2] (kernel 3), got 2"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, {3, 9}),
                       doctest::Contains("avg_pool2d: kernel size 9 along W is larger than the padded input: f32(2, 3, 8, 8) cpu has 8 + 2*0 = 8"),
                       Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {0, 3}), doctest::Contains("max_pool2d: kernel size along H must be >= 1, got 0"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {2, 2}, {-1, 1}), doctest::Contains("max_pool2d: stride along H must be >= 0"), Error);
  CHECK_THROWS_WITH_AS(max_pool1d(x, 2), doctest::Contains("max_pool1d: input f32(2, 3, 8, 8) cpu must be (N, C, L)"), Error);
  CHECK_THROWS_WITH_AS(avg_pool1d(Tensor::zeros({2, 3, 4}), 5),
                       doctest::Contains("avg_pool1d: kernel size 5 is larger than the padded input"), Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(x, {0, 2}), doctest::Contains("adaptive_avg_pool2d: output size (0, 2) must be positive"),
                       Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(Tensor::zeros({3, 8, 8}), {2, 2}),
                       doctest::Contains("adaptive_avg_pool2d: input f32(3, 8, 8) cpu must be (N, C, H, W)"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(Tensor::zeros({1, 1, 4, 4}, DType::i64), {2, 2}),
                       doctest::Contains("max_pool2d: unsupported dtype"), Error);
}
