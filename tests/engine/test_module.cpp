// Module naming and traversal order (PyTorch state_dict order), train/eval propagation, in-place moves,
// PyTorch default initialisation of the layers, and the init helpers.
#include <algorithm>
#include <cmath>
#include <memory>

#include "engine/init.h"
#include "engine/layers.h"
#include "engine/optim.h"
#include "support/check.h"

using namespace spk;

namespace {

struct Block : Module {
  std::shared_ptr<Linear> fc;
  std::shared_ptr<BatchNorm1d> bn;
  explicit Block(Rng& rng) {
    fc = register_module("fc", std::make_shared<Linear>(3, 4, rng));
    bn = register_module("bn", std::make_shared<BatchNorm1d>(4));
  }
};

struct Net : Module {
  Tensor scale, steps;
  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<Linear> head;
  explicit Net(Rng& rng) {
    scale = register_parameter("scale", Tensor::ones({1}));
    steps = register_buffer("steps", Tensor::zeros({}, DType::i64));
    layers = register_module("layers", std::make_shared<ModuleList>());
    layers->push_back(std::make_shared<Block>(rng));
    layers->push_back(std::make_shared<Block>(rng));
    head = register_module("head", std::make_shared<Linear>(4, 2, rng, /*bias=*/false));
  }
};

std::vector<std::string> names(const NamedTensors& v) {
  std::vector<std::string> r;
  for (const auto& [n, _] : v) r.push_back(n);
  return r;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_double()) m = std::max(m, std::abs(v));
  return m;
}

double sample_std(const std::vector<double>& v) {
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size()));
}

}  // namespace

TEST_CASE("module names follow PyTorch's state_dict order") {
  Rng rng(7);
  Net net(rng);
  const std::vector<std::string> block{"fc.weight", "fc.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                       "bn.running_var", "bn.num_batches_tracked"};
  std::vector<std::string> want{"scale", "steps"};
  for (const char* i : {"layers.0.", "layers.1."})
    for (const auto& b : block) want.push_back(i + b);
  want.push_back("head.weight");
  CHECK(names(net.state()) == want);

  CHECK(names(net.named_parameters()) ==
        std::vector<std::string>{"scale", "layers.0.fc.weight", "layers.0.fc.bias", "layers.0.bn.weight",
                                 "layers.0.bn.bias", "layers.1.fc.weight", "layers.1.fc.bias", "layers.1.bn.weight",
                                 "layers.1.bn.bias", "head.weight"});
  CHECK(names(net.named_buffers()) ==
        std::vector<std::string>{"steps", "layers.0.bn.running_mean", "layers.0.bn.running_var",
                                 "layers.0.bn.num_batches_tracked", "layers.1.bn.running_mean",
                                 "layers.1.bn.running_var", "layers.1.bn.num_batches_tracked"});
  std::vector<std::string> mods;
  for (auto& [n, _] : net.named_modules()) mods.push_back(n);
  CHECK(mods == std::vector<std::string>{"", "layers", "layers.0", "layers.0.fc", "layers.0.bn", "layers.1",
                                         "layers.1.fc", "layers.1.bn", "head"});

  // The registry holds the members' own handles, parameters require grad, buffers do not.
  auto params = net.parameters();
  CHECK(params.size() == 10);
  CHECK(params[1].same(net.layers->at<Block>(0).fc->weight));
  for (const auto& p : params) CHECK(p.requires_grad());
  for (const auto& [n, b] : net.named_buffers()) CHECK(!b.requires_grad());
  CHECK(net.num_parameters() == 1 + 2 * (12 + 4 + 4 + 4) + 8);
  CHECK(net.layers->size() == 2);
  CHECK_THROWS_WITH_AS(net.layers->at<Linear>(0), doctest::Contains("child 0 has another type"), Error);
}

TEST_CASE("train() and eval() propagate to every descendant") {
  Rng rng(7);
  Net net(rng);
  for (auto& [n, m] : net.named_modules()) CHECK(m->is_training());
  net.eval();
  for (auto& [n, m] : net.named_modules()) CHECK_MESSAGE(!m->is_training(), n);
  net.layers->at<Block>(1).train();
  for (auto& [n, m] : net.named_modules())
    CHECK_MESSAGE(m->is_training() == (n.rfind("layers.1", 0) == 0), n);
}

TEST_CASE("registration rejects bad and duplicate names") {
  struct Bad : Module {
    void add(const std::string& n, Tensor t) { register_parameter(n, t); }
    void buf(const std::string& n, Tensor t) { register_buffer(n, t); }
  } m;
  m.add("w", Tensor::zeros({2}));
  CHECK_THROWS_WITH_AS(m.add("w", Tensor::zeros({2})), doctest::Contains("name 'w' is already registered"), Error);
  CHECK_THROWS_WITH_AS(m.buf("w", Tensor::zeros({2})), doctest::Contains("name 'w' is already registered"), Error);
  CHECK_THROWS_WITH_AS(m.add("a.b", Tensor::zeros({2})), doctest::Contains("bad name 'a.b'"), Error);
  CHECK_THROWS_WITH_AS(m.add("i", Tensor::zeros({2}, DType::i64)), doctest::Contains("must be floating"), Error);
  Tensor x = Tensor::zeros({2}).set_requires_grad();
  CHECK_THROWS_WITH_AS(m.buf("x", x), doctest::Contains("must not require grad"), Error);
}

TEST_CASE("zero_grad and in-place to(dtype) keep the handles of members and optimisers") {
  Rng rng(3);
  Net net(rng);
  Tensor w = net.head->weight;
  SGD opt(net.named_parameters(), 0.1);
  w.set_grad(Tensor::ones({2, 4}));
  net.zero_grad();
  CHECK(!w.grad().defined());

  auto before = w.to_double();
  net.to(DType::f64);
  CHECK(w.dtype() == DType::f64);                              // same TensorImpl, new storage
  CHECK(opt.params().back().second.dtype() == DType::f64);
  CHECK(net.layers->at<Block>(0).bn->num_batches_tracked.dtype() == DType::i64);   // integers stay
  test::expect_close(w, before, 0, 0, "values survive the cast");
  net.to(Device::cpu());                                       // no-op on the same device
  CHECK(w.device() == Device::cpu());
  w.set_grad(Tensor::ones({2, 4}, DType::f64));
  opt.step();
  test::expect_close(w.grad(), std::vector<double>(8, 1.0), 0, 0, "grad kept");
  std::vector<double> want;
  for (double v : before) want.push_back(v - 0.1);
  test::expect_close(w, want, 0, 1e-15, "the optimiser steps the moved parameter");
}

TEST_CASE("Linear: PyTorch default init ranges and forward") {
  Rng rng(11);
  Linear fc(50, 30, rng);
  const double bound = 1 / std::sqrt(50.0);   // kaiming_uniform(a = sqrt(5)) gives 1/sqrt(fan_in)
  auto w = fc.weight.to_double(), b = fc.bias.to_double();
  REQUIRE(w.size() == 1500);
  double lo = 1, hi = -1;
  for (double v : w) { lo = std::min(lo, v); hi = std::max(hi, v); }
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(lo < -0.95 * bound);    // fills the range, not a narrower one
  CHECK(hi > 0.95 * bound);
  CHECK(sample_std(w) == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.05));
  CHECK(max_abs(fc.bias) <= bound);
  CHECK(sample_std(b) > 0.3 * bound);

  Rng again(11);
  Linear same(50, 30, again);
  test::expect_close(same.weight, fc.weight, 0, 0, "same seed, same weights");
  CHECK(fc.weight.dtype() == DType::f32);
  CHECK(Linear(2, 3, rng, false, DType::f64).state().size() == 1);

  // forward: y = x Wᵀ + b against plain loops
  Linear small(3, 2, rng, true, DType::f64);
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, -1, 0, 2}, {2, 3}, DType::f64);
  auto W = small.weight.to_double(), B = small.bias.to_double(), X = x.to_double();
  std::vector<double> want(4);
  for (int n = 0; n < 2; ++n)
    for (int o = 0; o < 2; ++o) {
      want[size_t(n * 2 + o)] = B[size_t(o)];
      for (int i = 0; i < 3; ++i) want[size_t(n * 2 + o)] += X[size_t(n * 3 + i)] * W[size_t(o * 3 + i)];
    }
  test::expect_close(small.forward(x), want, 1e-15, 1e-14, "linear forward");
}

TEST_CASE("Linear + SGD fits y = 2x + 1") {
  Rng rng(5);
  Linear fc(1, 1, rng, true, DType::f64);
  SGD opt(fc.named_parameters(), 0.1, {.momentum = 0.5});
  Tensor x = Tensor::from_vector(std::vector<double>{-1, -0.5, 0, 0.5, 1, 1.5}, {6, 1}, DType::f64);
  Tensor y = x * 2.0 + 1.0;
  double loss0 = 0, loss = 0;
  for (int it = 0; it < 200; ++it) {
    Tensor d = fc.forward(x) - y;
    Tensor l = mean(d * d);
    if (it == 0) loss0 = l.item();
    loss = l.item();
    opt.zero_grad();
    l.backward();
    opt.step();
  }
  CHECK(loss < 1e-10 * loss0);
  CHECK(fc.weight.item() == doctest::Approx(2.0).epsilon(1e-6));
  CHECK(fc.bias.item() == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("Conv and BatchNorm layers: parameter shapes, init and state") {
  Rng rng(2);
  Conv2d conv(4, 6, {3, 5}, rng, {.padding = {1, 2}, .groups = 2, .bias = false});
  CHECK(names(conv.state()) == std::vector<std::string>{"weight"});
  CHECK(conv.weight.shape() == Shape{6, 2, 3, 5});
  const double bound = 1 / std::sqrt(2.0 * 15);   // fan_in = in/groups · kh · kw
  CHECK(max_abs(conv.weight) <= bound);

  Conv1d tdnn(8, 16, 5, rng, {.dilation = 2});
  CHECK(names(tdnn.state()) == std::vector<std::string>{"weight", "bias"});
  CHECK(tdnn.weight.shape() == Shape{16, 8, 5});
  CHECK(max_abs(tdnn.bias) <= 1 / std::sqrt(40.0));
  CHECK_THROWS_WITH_AS(Conv1d(6, 4, 3, rng, {.groups = 4}), doctest::Contains("divisible by groups 4"), Error);

  BatchNorm2d bn(3);
  test::expect_close(bn.weight, {1, 1, 1}, 0, 0, "bn weight");
  test::expect_close(bn.bias, {0, 0, 0}, 0, 0, "bn bias");
  test::expect_close(bn.running_mean, {0, 0, 0}, 0, 0, "running_mean");
  test::expect_close(bn.running_var, {1, 1, 1}, 0, 0, "running_var");
  CHECK(bn.num_batches_tracked.dtype() == DType::i64);
  CHECK(bn.num_batches_tracked.dim() == 0);
  CHECK(names(bn.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  BatchNorm1d plain(3, {.affine = false, .track_running_stats = false});
  CHECK(plain.state().empty());
}

// The nets call forward_relu where PyTorch has relu(bn(x)); it must be that composition exactly, running
// statistics and the batch counter included, in training and in eval.
TEST_CASE("BatchNorm forward_relu is relu(forward) bit for bit, state included") {
  Rng rng(5);
  const Tensor x = Tensor::uniform({2, 3, 4, 5}, rng, -2, 2);
  BatchNorm2d fused(3), plain(3);
  for (bool training : {true, false}) {
    fused.train(training);
    plain.train(training);
    test::expect_close(fused.forward_relu(x), relu(plain.forward(x)), 0, 0, "2d values");
    test::expect_close(fused.running_mean, plain.running_mean, 0, 0, "running_mean");
    test::expect_close(fused.running_var, plain.running_var, 0, 0, "running_var");
    CHECK(fused.num_batches_tracked.item() == plain.num_batches_tracked.item());
  }
  CHECK(fused.num_batches_tracked.item() == 1);
  BatchNorm1d fused1(3), plain1(3);
  const Tensor x1 = Tensor::uniform({4, 3, 6}, rng, -2, 2);
  test::expect_close(fused1.forward_relu(x1), relu(plain1.forward(x1)), 0, 0, "1d values");
  CHECK_THROWS_WITH_AS(fused.forward_relu(x1), doctest::Contains("BatchNorm2d"), Error);
}

TEST_CASE("init helpers: torch.nn.init formulas") {
  Rng rng(9);
  Tensor w = Tensor::empty({64, 32, 3, 3});
  CHECK(fan_in_and_fan_out(w) == std::pair<int64_t, int64_t>{288, 576});
  kaiming_normal_(w, rng);   // fan_out, relu: std = sqrt(2 / 576)
  CHECK(sample_std(w.to_double()) == doctest::Approx(std::sqrt(2.0 / 576)).epsilon(0.03));
  kaiming_normal_(w, rng, FanMode::fan_in);
  CHECK(sample_std(w.to_double()) == doctest::Approx(std::sqrt(2.0 / 288)).epsilon(0.03));

  Tensor x = Tensor::empty({200, 100}, DType::f64);
  xavier_normal_(x, rng);
  CHECK(sample_std(x.to_double()) == doctest::Approx(std::sqrt(2.0 / 300)).epsilon(0.03));
  xavier_uniform_(x, rng, 2.0);
  double bound = 2.0 * std::sqrt(6.0 / 300);
  CHECK(max_abs(x) <= bound);
  CHECK(max_abs(x) > 0.99 * bound);
  kaiming_uniform_(x, rng, std::sqrt(5.0));
  CHECK(max_abs(x) <= 1 / std::sqrt(100.0));
  CHECK(max_abs(x) > 0.99 / std::sqrt(100.0));
  uniform_(x, rng, 2, 3);
  auto u = x.to_double();
  CHECK(*std::min_element(u.begin(), u.end()) >= 2);
  CHECK(*std::max_element(u.begin(), u.end()) < 3);
  constant_(x, 0.25);
  test::expect_close(x, std::vector<double>(20000, 0.25), 0, 0, "constant_");
  CHECK_THROWS_WITH_AS(xavier_uniform_(Tensor::empty({5}), rng), doctest::Contains("at least 2 dims"), Error);
}
