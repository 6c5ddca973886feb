// The SimCLR projection head of ssl_infonce (--ssl_proj_layers, --ssl_proj_dim): its parameter names, the loss on
// a tiny hand-set input against an independent double loop (Linear → BN with batch statistics per view → ReLU →
// Linear, TensorFlow's l2_normalize, /0.07, row CE), finite-difference gradients of input and head, and that
// without the head the loss has no parameters.
#include <cmath>
#include <map>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/ssl_infonce.h"
#include "ref.h"

using namespace spk;

namespace {

// Sets every parameter of the loss from `values` (name -> row-major values).
void set_params(Loss& loss, const std::map<std::string, std::vector<double>>& values) {
  for (auto& [name, p] : loss.named_parameters()) {
    CAPTURE(name);
    REQUIRE(values.count(name) == 1);
    const std::vector<double>& v = values.at(name);
    REQUIRE(int64_t(v.size()) == p.numel());
    std::copy(v.begin(), v.end(), p.data<double>());
  }
}

// y = W x + b for each row.
ref::Mat affine(const ref::Mat& x, const std::vector<double>& w, const std::vector<double>& b) {
  const size_t out = b.size(), in = x[0].size();
  ref::Mat y(x.size(), ref::Vec(out));
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t o = 0; o < out; ++o) {
      double s = b[o];
      for (size_t k = 0; k < in; ++k) s += w[o * in + k] * x[i][k];
      y[i][o] = s;
    }
  return y;
}

// Training-mode BatchNorm1d (biased batch variance, eps 1e-5), then ReLU.
ref::Mat bn_relu(const ref::Mat& h, const std::vector<double>& gamma, const std::vector<double>& beta) {
  ref::Mat y = h;
  const double n = double(h.size());
  for (size_t f = 0; f < gamma.size(); ++f) {
    double mean = 0, var = 0;
    for (const auto& r : h) mean += r[f] / n;
    for (const auto& r : h) var += (r[f] - mean) * (r[f] - mean) / n;
    for (size_t i = 0; i < h.size(); ++i)
      y[i][f] = std::max(0.0, (h[i][f] - mean) / std::sqrt(var + 1e-5) * gamma[f] + beta[f]);
  }
  return y;
}

}  // namespace

TEST_CASE("ssl_infonce projection head: names, value against a double loop, gradients") {
  LossConfig c = ref::f64_config(2, 2, 2);
  c.ssl_proj_layers = 2;
  c.ssl_proj_dim = 3;
  Rng rng(11);
  SSLInfoNCELoss loss(c, rng);
  REQUIRE(loss.head);
  std::vector<std::string> names;
  for (const auto& [name, t] : loss.state()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"proj.fc0.weight", "proj.fc0.bias", "proj.bn0.weight", "proj.bn0.bias",
                                          "proj.bn0.running_mean", "proj.bn0.running_var",
                                          "proj.bn0.num_batches_tracked", "proj.fc1.weight", "proj.fc1.bias"});
  const std::map<std::string, std::vector<double>> p = {
      {"proj.fc0.weight", {0.5, -1.0, 1.5, 0.25, -0.75, 2.0}},   // (3, 2)
      {"proj.fc0.bias", {0.1, -0.2, 0.3}},
      {"proj.bn0.weight", {1.0, 0.5, 2.0}},
      {"proj.bn0.bias", {0.2, 0.1, -0.1}},
      {"proj.fc1.weight", {1.0, 0.0, -0.5, 0.25, 1.0, 0.5, -1.0, 0.75, 0.3}},   // (3, 3)
      {"proj.fc1.bias", {0.05, -0.1, 0.2}}};
  set_params(loss, p);
  // Three utterances x two views x D = 2.
  const std::vector<double> xv = {1.0, 0.5, 0.8, 0.7, -0.5, 1.2, -0.4, 1.0, 0.3, -1.1, 0.6, -0.8};
  Tensor x = Tensor::from_vector(xv, {3, 2, 2}, DType::f64).set_requires_grad(true);

  const std::vector<ref::Mat> g = ref::groups(x);
  ref::Mat z[2];
  for (size_t v = 0; v < 2; ++v) {   // each view through the head on its own (BN statistics per view)
    const ref::Mat h = bn_relu(affine(ref::member(g, v), p.at("proj.fc0.weight"), p.at("proj.fc0.bias")),
                               p.at("proj.bn0.weight"), p.at("proj.bn0.bias"));
    z[v] = affine(h, p.at("proj.fc1.weight"), p.at("proj.fc1.bias"));
  }
  ref::Mat logits(3, ref::Vec(3));
  for (size_t i = 0; i < 3; ++i)
    for (size_t k = 0; k < 3; ++k) logits[i][k] = ref::dot(ref::normalize(z[0][i], 1e-6), ref::normalize(z[1][k], 1e-6)) / 0.07;
  const LossOutput out = loss.forward(x, Tensor());
  test::expect_close(out.loss, {ref::ce(logits, ref::diag_labels(3))}, 1e-12, 1e-11, "simclr head loss");
  CHECK(out.metric == doctest::Approx(ref::top1(logits, ref::diag_labels(3))));
  // The BN running statistics moved (two forwards per step: one per view).
  CHECK(loss.head->state()[6].second.to_double()[0] == 2.0);
  ref::gradcheck_loss(loss, x, Tensor());
}

TEST_CASE("ssl_infonce projection head: one layer is a Linear; none, no parameters; bad sizes") {
  LossConfig c = ref::f64_config(4, 2, 2);
  Rng rng(12);
  c.ssl_proj_layers = 1;
  c.ssl_proj_dim = 5;
  SSLInfoNCELoss one(c, rng);
  CHECK(one.parameters().size() == 2);
  CHECK(one.named_parameters()[0].second.shape() == Shape{5, 4});
  c.ssl_proj_layers = 0;
  CHECK(SSLInfoNCELoss(c, rng).parameters().empty());
  c.ssl_proj_layers = 2;
  c.ssl_proj_dim = 0;
  CHECK_THROWS_WITH_AS(SSLInfoNCELoss(c, rng), doctest::Contains("ssl_proj_dim must be >= 1"), Error);
  c.ssl_proj_layers = -1;
  CHECK_THROWS_WITH_AS(SSLInfoNCELoss(c, rng), doctest::Contains("ssl_proj_layers -1"), Error);
  // An embedding of another size than nOut is named.
  c.ssl_proj_layers = 1;
  c.ssl_proj_dim = 3;
  SSLInfoNCELoss l(c, rng);
  CHECK_THROWS_WITH_AS(l.forward(test::rand_input({3, 2, 5}, rng).to(DType::f64), Tensor()),
                       doctest::Contains("does not match the projection head's input nOut 4"), Error);
}
