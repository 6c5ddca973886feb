// MoCo (losses/moco.h, momentum.h): the EMA update on hand values (weights averaged, an integer buffer copied),
// the queue's FIFO order across a wrap-around, the loss on a tiny input against an independent double loop
// (query head, key encoder and key head, unit rows, [q·k, q·queueᵀ]/T, CE at 0), finite-difference gradients,
// and after_step: key copies moved by the momentum, the step's keys queued at the pointer.
#include <cmath>

#include "engine/layers.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/moco.h"
#include "ref.h"

using namespace spk;

namespace {

// A key/online encoder for the tests: y = W f + b.
struct TinyEncoder : Module {
  std::shared_ptr<Linear> fc;
  TinyEncoder(int64_t in, int64_t out, Rng& rng) { fc = register_module("fc", std::make_shared<Linear>(in, out, rng, true, DType::f64)); }
  Tensor forward(const Tensor& f) { return fc->forward(f); }
};

LossConfig tiny_config(int64_t queue) {
  LossConfig c;
  c.nOut = 3;
  c.ssl_proj_layers = 1;   // q = Linear(3, 3): no BatchNorm, so the double loop below is the whole head
  c.ssl_proj_dim = 3;
  c.moco_queue = queue;
  c.moco_momentum = 0.9;
  c.dtype = DType::f64;
  return c;
}

ref::Mat affine(const ref::Mat& x, const Tensor& w, const Tensor& b) {
  const ref::Mat W = ref::rows(w);
  const ref::Vec B = b.to_double();
  ref::Mat y;
  for (const ref::Vec& r : x) {
    ref::Vec o(B);
    for (size_t i = 0; i < o.size(); ++i) o[i] += ref::dot(W[i], r);
    y.push_back(o);
  }
  return y;
}

}  // namespace

TEST_CASE("moco: the EMA update averages weights and copies integer buffers") {
  Rng r1(1), r2(2);
  BatchNorm1d online(2, BatchNormOptions{.dtype = DType::f64}), copy(2, BatchNormOptions{.dtype = DType::f64});
  const NamedTensors so = online.state(), sc = copy.state();
  // weight, bias, running_mean, running_var, num_batches_tracked
  so[0].second.data<double>()[0] = 2.0;
  sc[0].second.data<double>()[0] = 4.0;
  so[2].second.data<double>()[1] = -1.0;
  sc[2].second.data<double>()[1] = 3.0;
  so[4].second.data<int64_t>()[0] = 7;
  ema_update(online, copy, 0.75);
  CHECK(sc[0].second.data<double>()[0] == 0.75 * 4.0 + 0.25 * 2.0);   // 3.5
  CHECK(sc[0].second.data<double>()[1] == 1.0);                       // both 1: unchanged
  CHECK(sc[2].second.data<double>()[1] == 0.75 * 3.0 + 0.25 * -1.0);  // 2.0
  CHECK(sc[4].second.data<int64_t>()[0] == 7);
  CHECK(so[0].second.data<double>()[0] == 2.0);   // the online module is untouched
  Linear other(2, 2, r1, true, DType::f64);
  CHECK_THROWS_AS(ema_update(online, other, 0.5), Error);   // different modules
}

TEST_CASE("moco: the queue is a FIFO of the newest K keys, the pointer wraps") {
  Rng rng(3);
  MoCoLoss loss(tiny_config(5), rng);
  CHECK(loss.queue.shape() == Shape{5, 3});
  CHECK(loss.queue_pointer() == 0);
  auto keys = [](double first, int64_t n) {
    std::vector<double> v;
    for (int64_t i = 0; i < n; ++i)
      for (int k = 0; k < 3; ++k) v.push_back(first + double(i));
    return Tensor::from_vector(v, {n, 3}, DType::f64);
  };
  loss.enqueue(keys(10, 2));   // 10, 11 -> rows 0, 1
  loss.enqueue(keys(20, 2));   // 20, 21 -> rows 2, 3
  CHECK(loss.queue_pointer() == 4);
  loss.enqueue(keys(30, 2));   // 30 -> row 4, 31 wraps to row 0 (replacing 10, the oldest)
  CHECK(loss.queue_pointer() == 1);
  const ref::Mat q = ref::rows(loss.queue);
  const std::vector<double> want = {31, 11, 20, 21, 30};
  for (size_t i = 0; i < 5; ++i) CHECK(q[i] == ref::Vec(3, want[i]));
  CHECK_THROWS_AS(loss.enqueue(keys(0, 6)), Error);   // more keys than the queue holds
}

TEST_CASE("moco: the loss against a double loop; gradients; after_step moves the keys and queues them") {
  Rng rng(5);
  MoCoLoss loss(tiny_config(4), rng);
  Rng enc_rng(6), key_rng(7);
  auto online = std::make_shared<TinyEncoder>(2, 3, enc_rng);
  auto key = std::make_shared<TinyEncoder>(2, 3, key_rng);
  const ref::Mat key_w0 = ref::rows(key->fc->weight), online_w = ref::rows(online->fc->weight);
  loss.attach_encoder(key, [k = key.get()](const Tensor& f) { return k->forward(f); }, *online);
  // ssl-for-slr's initial update(…, 0.1): key ← 0.1 key + 0.9 online.
  CHECK(ref::rows(key->fc->weight)[1][0] == doctest::Approx(0.1 * key_w0[1][0] + 0.9 * online_w[1][0]).epsilon(1e-15));
  CHECK_FALSE(key->fc->weight.requires_grad());
  for (auto& [name, p] : loss.named_parameters())
    CHECK(p.requires_grad() == (name.rfind("proj.", 0) == 0));   // only the query head trains

  const int64_t N = 3;
  const std::vector<double> fv = {0.3, -1.2, 0.8, 0.5, -0.4, 0.9, 1.1, 0.2, -0.7, 0.6, 0.1, -1.0};   // (2N, 2)
  const Tensor feats = Tensor::from_vector(fv, {2 * N, 2}, DType::f64);
  const std::vector<double> xv = {0.5, -0.2, 0.9, 0.1, 0.4, -0.3, -0.8, 0.3, 0.2, 0.6, 0.7, 0.1,
                                  0.2, 0.9, -0.5, -0.4, 0.3, 0.8};   // (N, 2, 3) embeddings
  Tensor x = Tensor::from_vector(xv, {N, 2, 3}, DType::f64).set_requires_grad(true);
  loss.set_step_features(feats, 2, N);
  const LossOutput out = loss.forward(x, Tensor());

  // The independent loop: q from view 0 through the query head, k from features of view 1 through the key
  // encoder and key head, T = 0.07, CE at column 0.
  const ref::Mat q = ref::normalize_rows(affine(ref::member(ref::groups(x), 0), loss.head->named_parameters()[0].second,
                                                loss.head->named_parameters()[1].second));
  ref::Mat f1;
  for (int64_t i = N; i < 2 * N; ++i) f1.push_back({fv[size_t(2 * i)], fv[size_t(2 * i + 1)]});
  const ref::Mat k = ref::normalize_rows(affine(affine(f1, key->fc->weight, key->fc->bias),
                                                loss.key_head->named_parameters()[0].second,
                                                loss.key_head->named_parameters()[1].second));
  const ref::Mat Q = ref::rows(loss.queue);
  double want = 0;
  for (int64_t i = 0; i < N; ++i) {
    ref::Vec logits = {ref::dot(q[size_t(i)], k[size_t(i)]) / 0.07};
    for (const ref::Vec& row : Q) logits.push_back(ref::dot(q[size_t(i)], row) / 0.07);
    double mx = logits[0], z = 0;
    for (double l : logits) mx = std::max(mx, l);
    for (double l : logits) z += std::exp(l - mx);
    want += -(logits[0] - mx - std::log(z)) / double(N);
  }
  CHECK(out.loss.item() == doctest::Approx(want).epsilon(1e-12));
  std::vector<Tensor> trained{x};   // x and the query head; the key side takes no gradient by design
  for (auto& [name, p] : loss.head->named_parameters()) trained.push_back(p);
  spk::test::gradcheck([&](const std::vector<Tensor>& in) { return loss.forward(in[0], Tensor()).loss; }, trained);

  // after_step: key ← 0.9 key + 0.1 online (the query encoder), the keys at the pointer, the pointer moved.
  const ref::Mat key_before = ref::rows(key->fc->weight);
  loss.set_step_features(feats, 2, N);
  loss.forward(x, Tensor());
  loss.after_step(*online);
  const ref::Mat key_after = ref::rows(key->fc->weight);
  CHECK(key_after[2][1] == doctest::Approx(0.9 * key_before[2][1] + 0.1 * online_w[2][1]).epsilon(1e-15));
  CHECK(loss.queue_pointer() == 3);
  const ref::Mat Q2 = ref::rows(loss.queue);
  for (int64_t i = 0; i < N; ++i)
    for (int d = 0; d < 3; ++d) CHECK(Q2[size_t(i)][size_t(d)] == doctest::Approx(k[size_t(i)][size_t(d)]).epsilon(1e-12));
  CHECK(Q2[3] == Q[3]);   // the oldest row not yet replaced
}

TEST_CASE("moco: moco_key_bn batch normalises the keys with the key batch's statistics, running with the stored ones") {
  // The key encoder is a BatchNorm1d(2) (weight 1, bias 0, running mean 0, var 1); the key head Linear(2, 2).
  struct BnEncoder : Module {
    std::shared_ptr<BatchNorm1d> bn;
    BnEncoder() { bn = register_module("bn", std::make_shared<BatchNorm1d>(2, BatchNormOptions{.dtype = DType::f64})); }
    Tensor forward(const Tensor& f) { return bn->forward(f); }
  };
  const int64_t N = 3;
  const std::vector<double> fv = {0.3, -1.2, 0.8, 0.5, -0.4, 0.9, 1.1, 0.2, -0.7, 0.6, 0.1, -1.0};   // (2N, 2)
  ref::Mat f1;   // view 1's features
  for (int64_t i = N; i < 2 * N; ++i) f1.push_back({fv[size_t(2 * i)], fv[size_t(2 * i + 1)]});
  for (const std::string mode : {"batch", "running"}) {
    CAPTURE(mode);
    LossConfig c = tiny_config(4);
    c.nOut = 2;
    c.ssl_proj_dim = 2;
    c.moco_key_bn = mode;
    Rng rng(5);
    MoCoLoss loss(c, rng);
    auto online = std::make_shared<BnEncoder>(), key = std::make_shared<BnEncoder>();
    loss.attach_encoder(key, [k = key.get()](const Tensor& f) { return k->forward(f); }, *online);
    key->train(true);
    loss.set_step_features(Tensor::from_vector(fv, {2 * N, 2}, DType::f64), 2, N);
    Tensor x = Tensor::uniform({N, 2, 2}, rng, -1, 1).to(DType::f64);
    ref::Mat normed = f1;
    for (size_t d = 0; d < 2; ++d) {
      double mean = 0, var = 0;
      for (const ref::Vec& r : f1) mean += r[d] / double(N);
      for (const ref::Vec& r : f1) var += (r[d] - mean) * (r[d] - mean) / double(N);   // biased, as BN
      for (ref::Vec& r : normed)
        r[d] = mode == "batch" ? (r[d] - mean) / std::sqrt(var + 1e-5) : r[d] / std::sqrt(1.0 + 1e-5);
    }
    loss.forward(x, Tensor());
    CHECK(key->is_training());   // the mode is restored
    // The keys through the key head as it is now (after_step moves it afterwards).
    const ref::Mat k = ref::normalize_rows(affine(normed, loss.key_head->named_parameters()[0].second,
                                                  loss.key_head->named_parameters()[1].second));
    loss.after_step(*online);   // queues this step's keys at rows 0..N-1
    const ref::Mat Q = ref::rows(loss.queue);
    for (size_t i = 0; i < size_t(N); ++i)
      for (size_t d = 0; d < 2; ++d) CHECK(Q[i][d] == doctest::Approx(k[i][d]).epsilon(1e-12));
  }
  LossConfig bad = tiny_config(4);
  bad.moco_key_bn = "both";
  Rng rng(1);
  CHECK_THROWS_WITH_AS(MoCoLoss(bad, rng), doctest::Contains("moco_key_bn 'both'"), Error);
}
