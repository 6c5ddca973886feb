// Attention ops (engine/ops/attention.cpp) and the layers that use them (engine/layers.h): the core
// scaled_dot_product_attention against plain loops, multi_head_attention and layer_norm (with the
// MultiheadAttention and LayerNorm layers) against torch 1.13's nn.MultiheadAttention and nn.LayerNorm
// (tests/data/mha, written by scripts/make_mha_golden.py), torch's parameter names, gradient checks in
// double, error messages.
#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/layers.h"
#include "engine/rng.h"
#include "support/check.h"

using namespace spk;
using test::gradcheck;
using test::rand_input;

namespace {

// tests/data/mha/<name>.txt: the shape on the first line, then one value per line.
Tensor golden(const std::string& name) {
  const std::string path = std::string(SPK_TEST_DATA_DIR) + "/mha/" + name + ".txt";
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "cannot open " << path);
  std::string line;
  std::getline(f, line);
  std::istringstream dims(line);
  Shape shape;
  for (int64_t d; dims >> d;) shape.push_back(d);
  std::vector<double> v;
  for (double x; f >> x;) v.push_back(x);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  REQUIRE_MESSAGE(int64_t(v.size()) == n, path << ": " << v.size() << " values for its shape");
  return Tensor::from_vector(v, shape, DType::f64);
}

// softmax(Q_h K_hᵀ/√Dh) V_h per batch and head by loops, on dense (B, L, E) doubles.
std::vector<double> loop_attention(const std::vector<double>& q, const std::vector<double>& k,
                                   const std::vector<double>& v, int64_t B, int64_t Lq, int64_t Lk, int64_t E,
                                   int64_t H) {
  const int64_t Dh = E / H;
  std::vector<double> out(size_t(B * Lq * E), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Lq; ++i) {
        std::vector<double> p(static_cast<size_t>(Lk));
        double z = 0;
        for (int64_t j = 0; j < Lk; ++j) {
          double s = 0;
          for (int64_t c = 0; c < Dh; ++c)
            s += q[size_t((b * Lq + i) * E + h * Dh + c)] * k[size_t((b * Lk + j) * E + h * Dh + c)];
          p[size_t(j)] = std::exp(s / std::sqrt(double(Dh)));
          z += p[size_t(j)];
        }
        for (int64_t c = 0; c < Dh; ++c)
          for (int64_t j = 0; j < Lk; ++j)
            out[size_t((b * Lq + i) * E + h * Dh + c)] += p[size_t(j)] / z * v[size_t((b * Lk + j) * E + h * Dh + c)];
      }
  return out;
}

// An f64 MultiheadAttention(8, 2) holding the golden weights.
std::shared_ptr<MultiheadAttention> golden_mha() {
  Rng rng(1);
  auto m = std::make_shared<MultiheadAttention>(8, 2, rng, DType::f64);
  NoGradGuard ng;
  m->in_proj_weight.copy_(golden("mha_in_proj_weight"));
  m->in_proj_bias.copy_(golden("mha_in_proj_bias"));
  m->out_proj->weight.copy_(golden("mha_out_proj_weight"));
  m->out_proj->bias.copy_(golden("mha_out_proj_bias"));
  return m;
}

constexpr double kGoldenAtol = 1e-12, kGoldenRtol = 1e-10;

}  // namespace

TEST_CASE("scaled_dot_product_attention against loops: (5,8) 2 heads, (2,3,12) 3 heads with 4 keys, one head") {
  Rng rng(7);
  struct Case { int64_t B, Lq, Lk, E, H; bool batched; };
  for (const Case& c : {Case{1, 5, 5, 8, 2, false}, Case{2, 3, 4, 12, 3, true}, Case{1, 4, 6, 6, 1, true}}) {
    Shape qs = c.batched ? Shape{c.B, c.Lq, c.E} : Shape{c.Lq, c.E};
    Shape ks = c.batched ? Shape{c.B, c.Lk, c.E} : Shape{c.Lk, c.E};
    Tensor q = Tensor::uniform(qs, rng, -2, 2, DType::f64), k = Tensor::uniform(ks, rng, -2, 2, DType::f64),
           v = Tensor::uniform(ks, rng, -2, 2, DType::f64);
    Tensor got = scaled_dot_product_attention(q, k, v, c.H);
    CHECK(got.shape() == qs);
    test::expect_close(got, loop_attention(q.to_double(), k.to_double(), v.to_double(), c.B, c.Lq, c.Lk, c.E, c.H),
                       1e-14, 1e-12, "heads " + std::to_string(c.H));
  }
  // Strided inputs are read through contiguous(): a transposed key gives the same result as its copy.
  Tensor q = Tensor::uniform({3, 4}, rng, -1, 1, DType::f64);
  Tensor kt = transpose(Tensor::uniform({4, 5}, rng, -1, 1, DType::f64), 0, 1);
  test::expect_close(scaled_dot_product_attention(q, kt, kt, 2),
                     scaled_dot_product_attention(q, kt.contiguous(), kt.contiguous(), 2).to_double(), 0, 0, "strided");
}

TEST_CASE("MultiheadAttention: torch's parameter names, shapes and init") {
  Rng rng(3);
  MultiheadAttention m(192, 4, rng);
  std::vector<std::string> names;
  for (const auto& [name, t] : m.state()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  CHECK(m.in_proj_weight.shape() == Shape{576, 192});
  CHECK(m.out_proj->weight.shape() == Shape{192, 192});
  // Biases start at zero; xavier_uniform bounds in_proj_weight by sqrt(6 / (192 + 576)).
  for (double b : m.in_proj_bias.to_double()) CHECK(b == 0);
  for (double b : m.out_proj->bias.to_double()) CHECK(b == 0);
  const double bound = std::sqrt(6.0 / (192 + 576));
  double mx = 0;
  for (double w : m.in_proj_weight.to_double()) mx = std::max(mx, std::abs(w));
  CHECK(mx <= bound);
  CHECK(mx > 0.9 * bound);
  CHECK_THROWS_WITH_AS(MultiheadAttention(10, 4, rng),
                       doctest::Contains("embed_dim 10 must be divisible by num_heads 4"),
                       Error);
}

TEST_CASE("multi_head_attention matches torch.nn.MultiheadAttention: unbatched key = value (the ITM call)") {
  auto m = golden_mha();
  Tensor x = golden("mha_x").set_requires_grad(true), y = golden("mha_y").set_requires_grad(true);
  Tensor out = m->forward(y, x, x);
  test::expect_close(out, golden("mha_out"), kGoldenAtol, kGoldenRtol, "out");
  sum(mul(out, golden("mha_cot"))).backward();
  test::expect_close(x.grad(), golden("mha_grad_x"), kGoldenAtol, kGoldenRtol, "grad x (key + value)");
  test::expect_close(y.grad(), golden("mha_grad_y"), kGoldenAtol, kGoldenRtol, "grad y (query)");
  test::expect_close(m->in_proj_weight.grad(), golden("mha_grad_in_proj_weight"), kGoldenAtol, kGoldenRtol,
                     "in_proj_weight");
  test::expect_close(m->in_proj_bias.grad(), golden("mha_grad_in_proj_bias"), kGoldenAtol, kGoldenRtol, "in_proj_bias");
  test::expect_close(m->out_proj->weight.grad(), golden("mha_grad_out_proj_weight"), kGoldenAtol, kGoldenRtol,
                     "out_proj.weight");
  test::expect_close(m->out_proj->bias.grad(), golden("mha_grad_out_proj_bias"), kGoldenAtol, kGoldenRtol,
                     "out_proj.bias");
}

TEST_CASE("multi_head_attention matches torch.nn.MultiheadAttention: batched, 5 queries, 4 keys") {
  auto m = golden_mha();
  Tensor q = golden("mhab_query").set_requires_grad(true), k = golden("mhab_key").set_requires_grad(true),
         v = golden("mhab_value").set_requires_grad(true);
  Tensor out = m->forward(q, k, v);
  test::expect_close(out, golden("mhab_out"), kGoldenAtol, kGoldenRtol, "out");
  sum(mul(out, golden("mhab_cot"))).backward();
  test::expect_close(q.grad(), golden("mhab_grad_query"), kGoldenAtol, kGoldenRtol, "grad query");
  test::expect_close(k.grad(), golden("mhab_grad_key"), kGoldenAtol, kGoldenRtol, "grad key");
  test::expect_close(v.grad(), golden("mhab_grad_value"), kGoldenAtol, kGoldenRtol, "grad value");
  test::expect_close(m->in_proj_weight.grad(), golden("mhab_grad_in_proj_weight"), kGoldenAtol, kGoldenRtol,
                     "in_proj_weight");
  test::expect_close(m->out_proj->weight.grad(), golden("mhab_grad_out_proj_weight"), kGoldenAtol, kGoldenRtol,
                     "out_proj.weight");
}

TEST_CASE("layer_norm and LayerNorm match torch.nn.LayerNorm(8)") {
  LayerNorm ln(8, 1e-5, true, DType::f64);
  {
    NoGradGuard ng;
    ln.weight.copy_(golden("ln_weight"));
    ln.bias.copy_(golden("ln_bias"));
  }
  Tensor x = golden("ln_x").set_requires_grad(true);
  Tensor out = ln.forward(x);
  test::expect_close(out, golden("ln_out"), kGoldenAtol, kGoldenRtol, "out");
  sum(mul(out, golden("ln_cot"))).backward();
  test::expect_close(x.grad(), golden("ln_grad_x"), kGoldenAtol, kGoldenRtol, "grad x");
  test::expect_close(ln.weight.grad(), golden("ln_grad_weight"), kGoldenAtol, kGoldenRtol, "grad weight");
  test::expect_close(ln.bias.grad(), golden("ln_grad_bias"), kGoldenAtol, kGoldenRtol, "grad bias");
  std::vector<std::string> names;
  for (const auto& [name, t] : ln.state()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"weight", "bias"});
}

TEST_CASE("attention ops: bad shapes are named") {
  Tensor q = Tensor::zeros({5, 8}), k = Tensor::zeros({4, 8});
  auto sdpa = [](const Tensor& a, const Tensor& b, const Tensor& c, int64_t h) {
    return scaled_dot_product_attention(a, b, c, h);
  };
  CHECK_THROWS_WITH_AS(sdpa(q, k, k, 3), doctest::Contains("embed dim 8 is not divisible by num_heads 3"), Error);
  CHECK_THROWS_WITH_AS(sdpa(q, Tensor::zeros({4, 6}), k, 2), doctest::Contains("embedding sizes differ"), Error);
  CHECK_THROWS_WITH_AS(sdpa(q, k, Tensor::zeros({3, 8}), 2), doctest::Contains("differ in length"), Error);
  CHECK_THROWS_WITH_AS(sdpa(Tensor::zeros({8}), k, k, 2), doctest::Contains("query must be (L, E) or (B, L, E)"),
                       Error);
  CHECK_THROWS_WITH_AS(sdpa(q, Tensor::zeros({1, 4, 8}), k, 2), doctest::Contains("rank of query"), Error);
  CHECK_THROWS_WITH_AS(
      multi_head_attention(q, k, k, Tensor::zeros({8, 8}), Tensor(), Tensor::zeros({8, 8}), Tensor(), 2),
      doctest::Contains("in_proj_weight f32(8, 8) cpu is not (3E, E)"), Error);
}

// ---- gradient checks ----
SPK_GRADCHECK_CASE(scaled_dot_product_attention, "(5,8) 2 heads key = value; (2,3,6) 3 heads, 4 keys") {
  Rng rng(1337);
  gradcheck([](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], in[1], in[1], 2); },
            {rand_input({5, 8}, rng), rand_input({5, 8}, rng)});
  gradcheck([](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], in[1], in[2], 3); },
            {rand_input({2, 3, 6}, rng), rand_input({2, 4, 6}, rng), rand_input({2, 4, 6}, rng)});
}
SPK_GRADCHECK_CASE(multi_head_attention, "(5,4) unbatched query y, key = value x, 2 heads, every parameter") {
  Rng rng(1337);
  gradcheck([](const std::vector<Tensor>& in) {
    return multi_head_attention(in[0], in[1], in[1], in[2], in[3], in[4], in[5], 2);
  }, {rand_input({5, 4}, rng), rand_input({3, 4}, rng), rand_input({12, 4}, rng), rand_input({12}, rng),
      rand_input({4, 4}, rng), rand_input({4}, rng)});
}
