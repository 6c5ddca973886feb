// Dropout: the mask is philox_uniform(offset + i, seed) < p over the row-major elements, drawn from counters
// reserved from the Rng; checked against that formula evaluated here, plus reproducibility, the eval / p = 0
// / p = 1 cases, the backward mask, a gradient check and the error on a bad p.
#include <cmath>

#include "kernels/common/philox.h"
#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

// y_i = 0 where dropped, x_i / (1 − p) elsewhere, for counters offset + i of the given seed.
static std::vector<double> loop_dropout(const std::vector<double>& x, double p, uint64_t seed, uint64_t offset) {
  std::vector<double> y;
  for (size_t i = 0; i < x.size(); ++i) y.push_back(philox_uniform(offset + i, seed) < p ? 0.0 : x[i] / (1 - p));
  return y;
}

TEST_CASE("dropout mask from Philox counters, reproducible, and its backward") {
  Rng init(1);
  Tensor x = Tensor::uniform({7, 9}, init, 0.5, 1.5, DType::f64).set_requires_grad(true);
  Rng rng(42, 5);
  Tensor y = dropout(x, 0.3, rng, true);
  CHECK(rng.offset() == 5 + 63);
  auto expect = loop_dropout(x.to_double(), 0.3, 42, 5);
  test::expect_close(y, expect, 0, 1e-15, "forward");
  int dropped = 0;
  for (double v : expect) dropped += v == 0;
  CHECK(dropped > 0);
  CHECK(dropped < 63);

  // The gradient is the same mask, scaled.
  y.backward(Tensor::ones({7, 9}, DType::f64));
  test::expect_close(x.grad(), loop_dropout(std::vector<double>(63, 1.0), 0.3, 42, 5), 0, 1e-15, "backward");

  // Same Rng state, same mask; the next draw uses fresh counters.
  Rng again(42, 5);
  test::expect_close(dropout(x, 0.3, again, true), y, 0, 0, "reproducible");
  Tensor y2 = dropout(x, 0.3, again, true);
  test::expect_close(y2, loop_dropout(x.to_double(), 0.3, 42, 68), 0, 1e-15, "next counters");

  // A transposed view: the mask runs over the view's own row-major order.
  Rng r3(9);
  Tensor xt = transpose(x.detach(), 0, 1);
  test::expect_close(dropout(xt, 0.5, r3, true), loop_dropout(xt.to_double(), 0.5, 9, 0), 0, 1e-15, "strided input");
}

TEST_CASE("dropout drops about p of a large f32 tensor; eval, p = 0 and p = 1") {
  Rng rng(3);
  Tensor x = Tensor::ones({100, 100});
  auto y = dropout(x, 0.25, rng, true).to_double();
  int kept = 0, badly_scaled = 0;
  for (double v : y) {
    if (v == 0) continue;
    ++kept;
    badly_scaled += std::abs(v - 1 / 0.75) > 1e-6;
  }
  CHECK(badly_scaled == 0);
  CHECK(kept / 10000.0 == doctest::Approx(0.75).epsilon(0.03));

  const uint64_t off = rng.offset();
  CHECK(dropout(x, 0.25, rng, false).same(x));
  CHECK(dropout(x, 0.0, rng, true).same(x));
  CHECK(rng.offset() == off);   // nothing drawn

  Rng init(2);
  Tensor xg = Tensor::uniform({3, 4}, init, -1, 1, DType::f64).set_requires_grad(true);
  Tensor z = dropout(xg, 1.0, rng, true);
  test::expect_close(z, std::vector<double>(12, 0.0), 0, 0, "p = 1 gives zeros");
  sum(z).backward();
  test::expect_close(xg.grad(), std::vector<double>(12, 0.0), 0, 0, "p = 1 gradient zero");

  CHECK_THROWS_WITH_AS(dropout(x, 1.5, rng, true), doctest::Contains("dropout: probability must be in [0, 1], got p = 1.5"),
                       Error);
  CHECK_THROWS_WITH_AS(dropout(x, -0.1, rng, false), doctest::Contains("dropout: probability must be in [0, 1]"), Error);
}

SPK_GRADCHECK_CASE(dropout, "(3,5,2) p = 0.4, Rng reseeded inside") {
  Rng rng(1337);
  auto x = rand_input({3, 5, 2}, rng);
  gradcheck([](const std::vector<Tensor>& in) { Rng r(7, 11); return dropout(in[0], 0.4, r, true); }, {x});
  gradcheck([](const std::vector<Tensor>& in) { Rng r(8); return dropout(transpose(in[0], 0, 2), 0.7, r, true); }, {x});
}
