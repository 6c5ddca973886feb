// GRU ops (engine/ops/gru.cpp, kernels/gru) and the GRU layer (engine/layers.h): the recurrence against a plain
// double loop of torch's equations, the layer against torch 1.13's nn.GRU (tests/data/gru, written by
// scripts/make_gru_golden.py: forward and every gradient, so torch's gate layout and b_hn placement are proven),
// gradient checks in double (through time: L up to 6), threads not changing a bit, error messages.
#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/cpu_threads.h"
#include "engine/layers.h"
#include "engine/rng.h"
#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

namespace {

// tests/data/gru/<name>.txt: the shape on the first line, then one value per line.
Tensor golden(const std::string& name) {
  const std::string path = std::string(SPK_TEST_DATA_DIR) + "/gru/" + name + ".txt";
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "cannot open " << path);
  std::string line;
  std::getline(f, line);
  std::istringstream dims(line);
  Shape shape;
  for (int64_t d; dims >> d;) shape.push_back(d);
  std::vector<double> v;
  for (double x; f >> x;) v.push_back(x);
  return Tensor::from_vector(v, shape, DType::f64);
}

double sig(double v) { return 1 / (1 + std::exp(-v)); }

// torch.nn.GRU's equations written out per element: gi (B, L, 3H), h0 (B, H), w (3H, H), bh (3H) -> (B, L, H).
std::vector<double> loop_gru(const std::vector<double>& gi, const std::vector<double>& h0, const std::vector<double>& w,
                             const std::vector<double>& bh, int64_t B, int64_t L, int64_t H) {
  std::vector<double> out(size_t(B * L * H));
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> hp(h0.begin() + b * H, h0.begin() + (b + 1) * H), hn(static_cast<size_t>(H));
    for (int64_t t = 0; t < L; ++t) {
      auto dot = [&](int64_t row) {
        double s = bh[size_t(row)];
        for (int64_t k = 0; k < H; ++k) s += w[size_t(row * H + k)] * hp[size_t(k)];
        return s;
      };
      const double* g = gi.data() + (b * L + t) * 3 * H;
      for (int64_t c = 0; c < H; ++c) {
        const double r = sig(g[c] + dot(c)), z = sig(g[H + c] + dot(H + c));
        const double n = std::tanh(g[2 * H + c] + r * dot(2 * H + c));
        hn[size_t(c)] = (1 - z) * n + z * hp[size_t(c)];
      }
      hp = hn;
      for (int64_t c = 0; c < H; ++c) out[size_t((b * L + t) * H + c)] = hp[size_t(c)];
    }
  }
  return out;
}

}  // namespace

TEST_CASE("gru_sequence against torch's equations in a double loop: (2,4,3), (1,7,5), (3,1,2)") {
  Rng rng(11);
  struct Case { int64_t B, L, H; };
  for (const Case& c : {Case{2, 4, 3}, Case{1, 7, 5}, Case{3, 1, 2}}) {
    Tensor gi = Tensor::uniform({c.B, c.L, 3 * c.H}, rng, -2, 2, DType::f64);
    Tensor h0 = Tensor::uniform({c.B, c.H}, rng, -1, 1, DType::f64);
    Tensor w = Tensor::uniform({3 * c.H, c.H}, rng, -1, 1, DType::f64);
    Tensor bh = Tensor::uniform({3 * c.H}, rng, -1, 1, DType::f64);
    Tensor got = gru_sequence(gi, h0, w, bh);
    CHECK(got.shape() == Shape{c.B, c.L, c.H});
    test::expect_close(got, loop_gru(gi.to_double(), h0.to_double(), w.to_double(), bh.to_double(), c.B, c.L, c.H),
                       1e-14, 1e-12, "L " + std::to_string(c.L));
  }
  // No b_hh is b_hh = 0.
  Tensor gi = Tensor::uniform({2, 3, 6}, rng, -1, 1, DType::f64), h0 = Tensor::uniform({2, 2}, rng, -1, 1, DType::f64);
  Tensor w = Tensor::uniform({6, 2}, rng, -1, 1, DType::f64);
  test::expect_close(gru_sequence(gi, h0, w, Tensor()), gru_sequence(gi, h0, w, Tensor::zeros({6}, DType::f64)).to_double(),
                     0, 0, "no bias");
}

TEST_CASE("GRU layer matches torch.nn.GRU(3, 4, batch_first=True): output and every gradient") {
  Rng rng(1);
  GRU m(3, 4, rng, true, DType::f64);
  std::vector<std::string> names;
  for (const auto& [name, t] : m.state()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"});
  {
    NoGradGuard ng;
    for (const auto& [name, t] : m.state()) Tensor(t).copy_(golden(name));
  }
  Tensor x = golden("x").set_requires_grad(true), h0 = golden("h0").set_requires_grad(true);
  Tensor out = m.forward(x, h0);
  constexpr double atol = 1e-13, rtol = 1e-11;
  test::expect_close(out, golden("out"), atol, rtol, "out");
  sum(mul(out, golden("cot"))).backward();
  test::expect_close(x.grad(), golden("grad_x"), atol, rtol, "grad x");
  test::expect_close(h0.grad(), golden("grad_h0"), atol, rtol, "grad h0");
  test::expect_close(m.weight_ih.grad(), golden("grad_weight_ih_l0"), atol, rtol, "grad weight_ih_l0");
  test::expect_close(m.weight_hh.grad(), golden("grad_weight_hh_l0"), atol, rtol, "grad weight_hh_l0");
  test::expect_close(m.bias_ih.grad(), golden("grad_bias_ih_l0"), atol, rtol, "grad bias_ih_l0");
  test::expect_close(m.bias_hh.grad(), golden("grad_bias_hh_l0"), atol, rtol, "grad bias_hh_l0");
}

TEST_CASE("GRU layer: torch's init bound 1/sqrt(H); no h0 starts from zeros") {
  Rng rng(5);
  GRU m(6, 16, rng);
  double mx = 0;
  for (const auto& [name, t] : m.state())
    for (double v : t.to_double()) mx = std::max(mx, std::abs(v));
  CHECK(mx <= 0.25);
  CHECK(mx > 0.24);
  Tensor x = Tensor::uniform({2, 3, 6}, rng, -1, 1);
  test::expect_close(m.forward(x), m.forward(x, Tensor::zeros({2, 16})).to_double(), 0, 0, "zero h0");
}

TEST_CASE("gru_sequence: forward and backward identical with 1 and 2 CPU threads") {
  Rng rng(3);
  auto run = [&](int threads) {
    const int prev = cpu_threads();
    set_cpu_threads(threads);
    Rng r(9);
    Tensor gi = rand_input({5, 6, 3 * 8}, r), h0 = rand_input({5, 8}, r), w = rand_input({24, 8}, r),
           bh = rand_input({24}, r);
    Tensor out = gru_sequence(gi, h0, w, bh);
    sum(mul(out, out)).backward();
    set_cpu_threads(prev);
    std::vector<double> all = out.to_double();
    for (const Tensor& t : {gi.grad(), h0.grad(), w.grad(), bh.grad()})
      for (double v : t.to_double()) all.push_back(v);
    return all;
  };
  CHECK(run(1) == run(2));
}

TEST_CASE("gru_sequence and gru: errors name the op and the shapes") {
  Tensor gi = Tensor::zeros({2, 3, 12}), h0 = Tensor::zeros({2, 4}), w = Tensor::zeros({12, 4});
  CHECK_THROWS_WITH_AS(gru_sequence(gi, h0, Tensor::zeros({12, 5}), Tensor()),
                       doctest::Contains("gru_sequence: w_hh f32(12, 5) cpu is not (3H, H)"), Error);
  CHECK_THROWS_WITH_AS(gru_sequence(Tensor::zeros({2, 3, 9}), h0, w, Tensor()),
                       doctest::Contains("gru_sequence: gi f32(2, 3, 9) cpu is not (B, L, 3H)"), Error);
  CHECK_THROWS_WITH_AS(gru_sequence(gi, Tensor::zeros({3, 4}), w, Tensor()),
                       doctest::Contains("gru_sequence: h0 f32(3, 4) cpu is not (B, H)"), Error);
  CHECK_THROWS_WITH_AS(gru_sequence(gi, h0, w, Tensor::zeros({4})),
                       doctest::Contains("gru_sequence: b_hh f32(4) cpu is not (3H)"), Error);
  CHECK_THROWS_WITH_AS(gru(Tensor::zeros({2, 3, 5}), Tensor(), Tensor::zeros({12, 6}), w, Tensor(), Tensor()),
                       doctest::Contains("gru: weight_ih f32(12, 6) cpu is not (3H, input_size)"), Error);
}

SPK_GRADCHECK_CASE(gru_sequence, "(2,4,3) with b_hh; (1,6,2) without; (3,1,1)") {
  Rng rng(1337);
  auto f = [](const std::vector<Tensor>& in) { return gru_sequence(in[0], in[1], in[2], in[3]); };
  gradcheck(f, {rand_input({2, 4, 9}, rng), rand_input({2, 3}, rng), rand_input({9, 3}, rng), rand_input({9}, rng)});
  gradcheck([](const std::vector<Tensor>& in) { return gru_sequence(in[0], in[1], in[2], Tensor()); },
            {rand_input({1, 6, 6}, rng, -2, 2), rand_input({1, 2}, rng), rand_input({6, 2}, rng, -2, 2)});
  gradcheck(f, {rand_input({3, 1, 3}, rng), rand_input({3, 1}, rng), rand_input({3, 1}, rng), rand_input({3}, rng)});
}
SPK_GRADCHECK_CASE(gru, "(2,5,3) -> H 4, every parameter and h0") {
  Rng rng(1337);
  gradcheck([](const std::vector<Tensor>& in) { return gru(in[0], in[1], in[2], in[3], in[4], in[5]); },
            {rand_input({2, 5, 3}, rng), rand_input({2, 4}, rng), rand_input({12, 3}, rng), rand_input({12, 4}, rng),
             rand_input({12}, rng), rand_input({12}, rng)});
}
