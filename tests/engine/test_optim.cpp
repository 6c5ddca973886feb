// Optimisers against hand-worked updates (double), state export/import, and clip_grad_norm.
// Expected values follow torch.optim's documented algorithms step by step; the first SGD step is worked in
// the comments, and Adam's first step moves each weight by almost exactly lr·sign(g).
#include <cmath>

#include "engine/optim.h"
#include "support/check.h"

using namespace spk;

namespace {

// Gradients of the three steps, for a two-element parameter starting at (1, -2).
const std::vector<std::vector<double>> kGrads{{0.5, 1.0}, {-1.0, 0.25}, {2.0, 0.0}};

Tensor param(DType dtype = DType::f64) {
  return Tensor::from_vector(std::vector<double>{1.0, -2.0}, {2}, dtype).set_requires_grad();
}

void set_grad(const Tensor& p, const std::vector<double>& g) {
  p.set_grad(Tensor::from_vector(g, {2}, p.dtype()));
}

// Runs the three steps, checking the parameter after each against want[step].
void run(Optimizer& opt, const Tensor& p, const std::vector<std::vector<double>>& want, double tol, const char* what) {
  for (size_t s = 0; s < kGrads.size(); ++s) {
    set_grad(p, kGrads[s]);
    opt.step();
    test::expect_close(p, want[s], tol, tol, std::string(what) + " step " + std::to_string(s + 1));
  }
}

}  // namespace

TEST_CASE("SGD with momentum 0.9, Nesterov and L2 weight decay 0.1, lr 0.5") {
  Tensor p = param();
  SGD opt({{"w", p}}, 0.5, {.momentum = 0.9, .weight_decay = 0.1, .nesterov = true});
  // step 1: d = g + 0.1·p = (0.6, 0.8); buf = d; d += 0.9·buf -> (1.14, 1.52); p -= 0.5·d -> (0.43, -2.76)
  // step 2: d = (-1 + 0.043, 0.25 - 0.276); buf = 0.9·buf + d = (-0.417, 0.694); d += 0.9·buf; p -= 0.5·d
  run(opt, p, {{0.43, -2.76}, {1.09615, -3.0593}, {-0.73909925, -3.0497365}}, 1e-14, "sgd nesterov");
  CHECK(opt.steps() == 3);
}

TEST_CASE("SGD with momentum and dampening, no Nesterov") {
  Tensor p = param();
  SGD opt({{"w", p}}, 0.5, {.momentum = 0.9, .dampening = 0.3});
  // step 1: buf = g (no dampening on the first step) -> p = (1 - 0.25, -2 - 0.5)
  // step 2: buf = 0.9·(0.5, 1) + 0.7·(-1, 0.25) = (-0.25, 1.075) -> p = (0.875, -3.0375)
  run(opt, p, {{0.75, -2.5}, {0.875, -3.0375}, {0.2875, -3.52125}}, 1e-14, "sgd dampening");
}

TEST_CASE("Adam with L2 weight decay (torch.optim.Adam), lr 0.1") {
  Tensor p = param();
  Adam opt({{"w", p}}, 0.1, {.weight_decay = 0.1});
  // step 1: g = (0.6, 0.8); m̂ = g, v̂ = g², so p -= 0.1·g/(|g| + 1e-8) ≈ 0.1·sign(g)
  run(opt, p,
      {{0.9000000016666666, -2.09999999875},
       {0.9252635194456061, -2.1706400355765036},
       {0.8776172608049325, -2.206616246423853}},
      1e-14, "adam");
  auto st = opt.state();
  REQUIRE(st.size() == 5);
  CHECK(st[2].first == "optim.state.w.step");
  CHECK(st[2].second.item() == 3);
  CHECK(st[3].first == "optim.state.w.exp_avg");
  test::expect_close(st[3].second, {0.175952635209456, 0.046693599655484974}, 1e-15, 1e-13, "exp_avg");
  CHECK(st[4].first == "optim.state.w.exp_avg_sq");
  test::expect_close(st[4].second, {0.005565218793279386, 0.0006874358216504663}, 1e-15, 1e-13, "exp_avg_sq");
}

TEST_CASE("AdamW decays the weights before the Adam step (torch.optim.AdamW), lr 0.1, wd 0.1") {
  Tensor p = param();
  AdamW opt({{"w", p}}, 0.1, {.weight_decay = 0.1});
  // step 1: p *= 1 - 0.01 -> (0.99, -1.98); then p -= 0.1·g/(|g| + 1e-8) -> (0.89, -2.08)
  run(opt, p,
      {{0.890000002, -2.079999999}, {0.9177103542205653, -2.1422597512377273}, {0.8665676891558989, -2.185042582732153}},
      1e-14, "adamw");
  CHECK(AdamW({{"w", param()}}, 0.1).opt.weight_decay == 0.01);   // torch's default
}

TEST_CASE("Adam in f32 follows the f64 trajectory") {
  Tensor p = param(DType::f32);
  Adam opt({{"w", p}}, 0.1, {.weight_decay = 0.1});
  run(opt, p,
      {{0.9000000016666666, -2.09999999875},
       {0.9252635194456061, -2.1706400355765036},
       {0.8776172608049325, -2.206616246423853}},
      1e-6, "adam f32");
  CHECK(opt.state()[3].second.dtype() == DType::f32);
}

TEST_CASE("optimisers skip parameters without a gradient and follow set_lr") {
  Tensor a = param(), b = param();
  SGD opt({{"a", a}, {"b", b}}, 0.5, {.momentum = 0.9});
  set_grad(a, {1.0, 1.0});
  opt.step();
  test::expect_close(a, {0.5, -2.5}, 0, 0, "a stepped");
  test::expect_close(b, {1.0, -2.0}, 0, 0, "b untouched");
  auto st = opt.state();
  REQUIRE(st.size() == 3);   // optim.step, optim.lr, a's momentum_buffer only
  CHECK(st[2].first == "optim.state.a.momentum_buffer");
  opt.set_lr(0.25);
  opt.zero_grad();
  CHECK(!a.grad().defined());
  set_grad(a, {0.0, 0.0});
  opt.step();   // buf = 0.9·(1, 1): p -= 0.25·0.9
  test::expect_close(a, {0.275, -2.725}, 1e-15, 0, "momentum with the new lr");
  CHECK_THROWS_WITH_AS(opt.set_lr(-1), doctest::Contains("invalid learning rate -1"), Error);
}

TEST_CASE("optimiser state round trip resumes the same trajectory") {
  Tensor p = param();
  Adam opt({{"enc.w", p}}, 0.1, {.weight_decay = 0.1});
  for (int s = 0; s < 2; ++s) { set_grad(p, kGrads[size_t(s)]); opt.step(); }
  NamedTensors saved;
  for (auto& [n, t] : opt.state()) saved.emplace_back(n, t.clone());
  saved.emplace_back("enc.w", p.clone());   // a checkpoint also holds the model: ignored by load_state

  Tensor q = Tensor::from_vector(p.to_double(), {2}, DType::f64).set_requires_grad();
  Adam resumed({{"enc.w", q}}, 0.5, {.weight_decay = 0.1});   // hyperparameters come from the config, not the state
  resumed.load_state(saved);
  CHECK(resumed.steps() == 2);
  CHECK(resumed.lr() == 0.1);
  set_grad(p, kGrads[2]);
  set_grad(q, kGrads[2]);
  opt.step();
  resumed.step();
  test::expect_close(q, p, 0, 0, "resumed step 3");
  test::expect_close(q, {0.8776172608049325, -2.206616246423853}, 1e-14, 1e-14, "step 3 value");
}

TEST_CASE("optimiser load_state reports every problem at once and changes nothing") {
  Tensor p = param();
  Adam opt({{"w", p}}, 0.1);
  NamedTensors bad{
      {"optim.step", Tensor::scalar(4, DType::i64)},
      {"optim.state.w.step", Tensor::scalar(4, DType::i64)},
      {"optim.state.w.exp_avg", Tensor::zeros({3}, DType::f64)},             // wrong shape
      {"optim.state.v.exp_avg", Tensor::zeros({2}, DType::f64)},             // no such parameter
      {"optim.state.w.momentum_buffer", Tensor::zeros({2}, DType::f64)},     // SGD's, not Adam's
  };
  try {
    opt.load_state(bad);
    FAIL("load_state accepted a bad state");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.find("Adam load_state: 6 problem(s)") != std::string::npos);
    CHECK(m.find("'optim.state.w.exp_avg' is f64(3) cpu but parameter 'w' is f64(2) cpu") != std::string::npos);
    CHECK(m.find("'optim.state.v.exp_avg' is for 'v', which is not a parameter") != std::string::npos);
    CHECK(m.find("Adam has no state 'momentum_buffer'") != std::string::npos);
    CHECK(m.find("missing 'optim.lr'") != std::string::npos);
    CHECK(m.find("state of 'w' lacks 'exp_avg'") != std::string::npos);
    CHECK(m.find("state of 'w' lacks 'exp_avg_sq'") != std::string::npos);
  }
  CHECK(opt.steps() == 0);
  CHECK(opt.state().size() == 2);
}

TEST_CASE("optimiser construction checks") {
  CHECK_THROWS_WITH_AS(SGD({}, 0.1), doctest::Contains("empty parameter list"), Error);
  CHECK_THROWS_WITH_AS(SGD({{"w", param()}}, 0.1, {.nesterov = true}), doctest::Contains("nesterov needs momentum"),
                       Error);
  CHECK_THROWS_WITH_AS(Adam({{"w", param()}}, 0.1, {.beta1 = 1.0}), doctest::Contains("betas (1, 0.999)"), Error);
  Tensor p = param();
  CHECK_THROWS_WITH_AS(SGD({{"w", p}, {"w", p}}, 0.1), doctest::Contains("'w' appears twice"), Error);
  CHECK_THROWS_WITH_AS(SGD({{"x", Tensor::zeros({2})}}, 0.1), doctest::Contains("requires grad"), Error);
}

TEST_CASE("clip_grad_norm: total 2-norm over all gradients, scaled by max_norm / (total + 1e-6)") {
  Tensor a = Tensor::zeros({2}, DType::f64).set_requires_grad();
  Tensor b = Tensor::zeros({1, 1}, DType::f64).set_requires_grad();
  Tensor c = Tensor::zeros({3}, DType::f64).set_requires_grad();   // no gradient: skipped
  auto reset = [&] {
    a.set_grad(Tensor::from_vector(std::vector<double>{3, 4}, {2}, DType::f64));
    b.set_grad(Tensor::from_vector(std::vector<double>{12}, {1, 1}, DType::f64));
  };
  reset();
  CHECK(clip_grad_norm({a, b, c}, 20.0) == doctest::Approx(13.0).epsilon(1e-15));   // sqrt(9 + 16 + 144)
  test::expect_close(a.grad(), {3, 4}, 0, 0, "below max_norm: unchanged");
  CHECK(!c.grad().defined());

  double coef = 6.5 / (13.0 + 1e-6);
  CHECK(clip_grad_norm({a, b, c}, 6.5) == doctest::Approx(13.0).epsilon(1e-15));
  test::expect_close(a.grad(), {3 * coef, 4 * coef}, 0, 1e-15, "a clipped");
  test::expect_close(b.grad(), {12 * coef}, 0, 1e-15, "b clipped");

  reset();
  clip_grad_norm({a, b}, 13.0);   // 13 / (13 + 1e-6) < 1: scaled, as torch's clamp(coef, max=1)
  test::expect_close(b.grad(), {12 * 13.0 / (13.0 + 1e-6)}, 0, 1e-15, "at max_norm");

  Tensor f = Tensor::zeros({2}).set_requires_grad();
  f.set_grad(Tensor::from_vector(std::vector<float>{0.6f, 0.8f}, {2}));
  CHECK(clip_grad_norm({f}, 0.5) == doctest::Approx(1.0).epsilon(1e-7));
  test::expect_close(f.grad(), {0.3, 0.4}, 1e-6, 1e-6, "f32 clipped to norm 0.5");
  CHECK(clip_grad_norm({c}, 1.0) == 0.0);
}
