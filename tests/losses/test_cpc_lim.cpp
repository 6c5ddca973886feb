// ssl-for-slr's frame-level objectives (losses/cpc.h, losses/lim.h): each on tiny hand-set inputs against an
// independent double loop of the seed's formulas (CPC: a GRU written out with torch's equations, the K Dense
// predictors, the batch InfoNCE per view; LIM/GIM: chunk means, the roll across the batch, Dense-relu-Dense, the
// BCE / MINE / NCE objectives), finite-difference gradients of the frames and every head parameter, the heads'
// parameter names, the draws (range, determinism), and the errors that name the setting.
#include <cmath>
#include <map>
#include <memory>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/cpc.h"
#include "losses/lim.h"
#include "ref.h"

using namespace spk;

namespace {

// Every parameter of the loss from rng, U(-1, 1), so no value is torch's init by accident.
void randomise(Loss& loss, uint64_t seed) {
  Rng r(seed);
  for (auto& [name, p] : loss.named_parameters())
    for (int64_t i = 0; i < p.numel(); ++i) p.data<double>()[i] = r.uniform(-1, 1);
}

ref::Vec param(const Loss& loss, const std::string& name) {
  for (const auto& [n, p] : loss.named_parameters())
    if (n == name) return p.to_double();
  FAIL("no parameter " << name);
  return {};
}

// x (N, M, T, D) f64 -> frames[i][m][t] (D values)
using Frames = std::vector<std::vector<ref::Mat>>;
Frames frames_of(const Tensor& x) {
  const std::vector<double> v = x.to_double();
  const int64_t N = x.size(0), M = x.size(1), T = x.size(2), D = x.size(3);
  Frames f(static_cast<size_t>(N),
           std::vector<ref::Mat>(static_cast<size_t>(M), ref::Mat(static_cast<size_t>(T), ref::Vec(static_cast<size_t>(D)))));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D; ++d) f[size_t(i)][size_t(m)][size_t(t)][size_t(d)] = v[size_t(((i * M + m) * T + t) * D + d)];
  return f;
}

// y = W x + b, W (out, in) row-major.
ref::Vec affine(const ref::Vec& x, const ref::Vec& w, const ref::Vec& b) {
  ref::Vec y(b);
  for (size_t o = 0; o < b.size(); ++o)
    for (size_t k = 0; k < x.size(); ++k) y[o] += w[o * x.size() + k] * x[k];
  return y;
}

double sig(double v) { return 1 / (1 + std::exp(-v)); }

// torch.nn.GRU over the rows of seq from h = 0; the last hidden state.
ref::Vec gru_last(const ref::Mat& seq, const Loss& l, size_t H) {
  const ref::Vec wi = param(l, "gru.weight_ih_l0"), wh = param(l, "gru.weight_hh_l0"), bi = param(l, "gru.bias_ih_l0"),
                 bh = param(l, "gru.bias_hh_l0");
  ref::Vec h(H, 0.0);
  for (const ref::Vec& x : seq) {
    const ref::Vec gi = affine(x, wi, bi), gh = affine(h, wh, bh);
    ref::Vec hn(H);
    for (size_t c = 0; c < H; ++c) {
      const double r = sig(gi[c] + gh[c]), z = sig(gi[H + c] + gh[H + c]);
      const double n = std::tanh(gi[2 * H + c] + r * gh[2 * H + c]);
      hn[c] = (1 - z) * n + z * h[c];
    }
    h = hn;
  }
  return h;
}

// −log softmax(row)[target]
double nll(const ref::Vec& row, size_t target) {
  double mx = row[0];
  for (double v : row) mx = std::max(mx, v);
  double s = 0;
  for (double v : row) s += std::exp(v - mx);
  return -(row[target] - mx - std::log(s));
}

LossConfig cpc_config(int64_t D, int64_t K, int64_t H) {
  LossConfig c = ref::f64_config(D, 2, 2);
  c.cpc_steps = K;
  c.cpc_context_dim = H;
  return c;
}

}  // namespace

TEST_CASE("cpc: the future-step InfoNCE on a hand-worked (K 1, N 2, D 2) input") {
  // future z = (1, 0), (0, 1); predictions p = (2, 0), (0, 1): logits [[2, 0], [0, 1]].
  Tensor z = Tensor::from_vector(std::vector<double>{1, 0, 0, 1}, {1, 2, 2}, DType::f64);
  Tensor p = Tensor::from_vector(std::vector<double>{2, 0, 0, 1}, {1, 2, 2}, DType::f64);
  int64_t correct = -1;
  const double want = 0.5 * (std::log(1 + std::exp(-2.0)) + std::log(1 + std::exp(-1.0)));
  test::expect_close(cpc_future_infonce(z, p, &correct), {want}, 1e-15, 1e-14, "hand-worked");
  CHECK(correct == 2);
}

TEST_CASE("cpc: value against a double loop (GRU, K predictors, per-view batch InfoNCE) and gradients") {
  const int64_t N = 3, M = 2, T = 5, D = 2, K = 2, H = 3;
  Rng rng(21);
  CPCLoss loss(cpc_config(D, K, H), rng);
  CHECK(ref::param_names(loss) ==
        std::vector<std::string>{"gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0",
                                 "predictors.0.weight", "predictors.0.bias", "predictors.1.weight",
                                 "predictors.1.bias"});
  randomise(loss, 5);
  Tensor x = Tensor::uniform({N, M, T, D}, rng, -1, 1, DType::f64).set_requires_grad(true);
  const Frames f = frames_of(x);
  double want = 0, right = 0;
  for (size_t m = 0; m < size_t(M); ++m)
    for (size_t k = 0; k < size_t(K); ++k) {
      // p_k for every utterance, from the context over frames [0, T − K).
      ref::Mat pred;
      for (size_t j = 0; j < size_t(N); ++j) {
        const ref::Mat ctx(f[j][m].begin(), f[j][m].begin() + (T - K));
        pred.push_back(affine(gru_last(ctx, loss, H), param(loss, "predictors." + std::to_string(k) + ".weight"),
                              param(loss, "predictors." + std::to_string(k) + ".bias")));
      }
      for (size_t i = 0; i < size_t(N); ++i) {
        ref::Vec row;
        for (size_t j = 0; j < size_t(N); ++j) row.push_back(ref::dot(f[i][m][size_t(T - K) + k], pred[j]));
        want += nll(row, i) / double(M * K * N);
        right += std::max_element(row.begin(), row.end()) - row.begin() == std::ptrdiff_t(i);
      }
    }
  const LossOutput out = loss.forward(x, Tensor());
  test::expect_close(out.loss, {want}, 1e-13, 1e-12, "cpc loss");
  CHECK(out.metric == doctest::Approx(100 * right / double(M * K * N)));
  ref::gradcheck_loss(loss, x, Tensor());
}

TEST_CASE("cpc: errors name the shape and the setting") {
  Rng rng(3);
  CPCLoss loss(cpc_config(2, 4, 3), rng);
  CHECK_THROWS_WITH_AS(loss.forward(Tensor::zeros({3, 2, 2}, DType::f64), Tensor()),
                       doctest::Contains("cpc: expected frames (N, M, T, D)"), Error);
  CHECK_THROWS_WITH_AS(loss.forward(Tensor::zeros({3, 2, 4, 2}, DType::f64), Tensor()),
                       doctest::Contains("4 frames per crop in f64(3, 2, 4, 2) cpu leave no context before the 4 "
                                         "predicted steps (cpc_steps)"), Error);
  CHECK_THROWS_WITH_AS(loss.forward(Tensor::zeros({1, 2, 6, 2}, DType::f64), Tensor()),
                       doctest::Contains("needs at least 2 utterances"), Error);
  CHECK_THROWS_WITH_AS(loss.forward(Tensor::zeros({3, 2, 6, 5}, DType::f64), Tensor()),
                       doctest::Contains("frame size 5"), Error);
  CHECK_THROWS_WITH_AS(CPCLoss(cpc_config(2, 0, 3), rng), doctest::Contains("cpc_steps 0 must be at least 1"), Error);
  CHECK_THROWS_WITH_AS(make_loss("cpc", cpc_config(2, 2, 0)), doctest::Contains("cpc_context_dim 0"), Error);
}

TEST_CASE("lim objectives: BCE (clipped), MINE and NCE against their formulas on hand-set scores") {
  const std::vector<double> pv = {1.2, -0.3, 20.0}, nv = {0.4, -2.0, -0.7};
  Tensor pos = Tensor::from_vector(pv, {3}, DType::f64), neg = Tensor::from_vector(nv, {3}, DType::f64);
  double bce = 0, mine_pos = 0, mine_neg = 0, nce = 0, sneg = 0;
  for (double v : nv) sneg += std::exp(v);
  for (size_t i = 0; i < 3; ++i) {
    const double sp = std::min(std::max(sig(pv[i]), 1e-7), 1 - 1e-7);   // σ(20) is clipped to 1 − 1e-7
    const double sn = std::min(std::max(sig(nv[i]), 1e-7), 1 - 1e-7);
    bce -= (std::log(sp) + std::log(1 - sn)) / 3;
    mine_pos += pv[i] / 3;
    mine_neg += std::exp(nv[i]) / 3;
    nce -= (pv[i] - std::log(std::exp(pv[i]) + sneg)) / 3;
  }
  test::expect_close(lim_objective(pos, neg, "bce"), {bce}, 1e-15, 1e-13, "bce");
  test::expect_close(lim_objective(pos, neg, "mine"), {-(mine_pos - std::log(mine_neg))}, 1e-15, 1e-13, "mine");
  test::expect_close(lim_objective(pos, neg, "nce"), {nce}, 1e-15, 1e-13, "nce");
  // The log-sum-exps stay finite where exp() alone would overflow.
  Tensor big = Tensor::from_vector(std::vector<double>{800, 801}, {2}, DType::f64);
  CHECK(std::isfinite(lim_objective(big, big, "nce").item()));
  CHECK(std::isfinite(lim_objective(big, big, "mine").item()));
  CHECK_THROWS_WITH_AS(lim_objective(pos, neg, "jsd"), doctest::Contains("unknown lim_loss 'jsd'"), Error);
}

TEST_CASE("lim / gim: value against a double loop for given draws, every objective, chunks of 1 and 2; gradients") {
  const int64_t N = 3, M = 2, T = 5, D = 2, W = 4;
  for (const std::string kind : {"bce", "mine", "nce"})
    for (int64_t ctx : {int64_t(1), int64_t(2)}) {
      CAPTURE(kind);
      CAPTURE(ctx);
      LossConfig c = ref::f64_config(D, 2, 2);
      c.lim_loss = kind;
      c.lim_context_length = ctx;
      c.lim_hidden = W;
      Rng rng(31);
      LIMLoss loss("lim", c, rng);
      CHECK(ref::param_names(loss) ==
            std::vector<std::string>{"disc.0.weight", "disc.0.bias", "disc.1.weight", "disc.1.bias"});
      randomise(loss, 9);
      Tensor x = Tensor::uniform({N, M, T, D}, rng, -1, 1, DType::f64).set_requires_grad(true);
      const std::vector<LimDraw> draws = {{0, 3, 2, 1}, {T - ctx, 1, 0, 2}};
      const Frames f = frames_of(x);
      auto chunk = [&](size_t i, size_t m, int64_t p) {
        ref::Vec s(size_t(D), 0.0);
        for (int64_t t = p; t < p + ctx; ++t)
          for (size_t d = 0; d < size_t(D); ++d) s[d] += f[i][m][size_t(t)][d] / double(ctx);
        return s;
      };
      auto disc = [&](const ref::Vec& a, const ref::Vec& b) {
        ref::Vec ab = a;
        ab.insert(ab.end(), b.begin(), b.end());
        ref::Vec h = affine(ab, param(loss, "disc.0.weight"), param(loss, "disc.0.bias"));
        for (double& v : h) v = std::max(0.0, v);
        return affine(h, param(loss, "disc.1.weight"), param(loss, "disc.1.bias"))[0];
      };
      double want = 0;
      for (size_t m = 0; m < size_t(M); ++m) {
        const LimDraw& d = draws[m];
        ref::Vec pos, neg;
        for (size_t i = 0; i < size_t(N); ++i) {
          const size_t other = size_t((int64_t(i) - d.shift + N) % N);   // tf.roll by the shift
          pos.push_back(disc(chunk(i, m, d.p1), chunk(i, m, d.p2)));
          neg.push_back(disc(chunk(i, m, d.p1), chunk(other, m, d.p3)));
        }
        double l = 0, sneg = 0, mneg = 0;
        for (double v : neg) sneg += std::exp(v);
        for (size_t i = 0; i < size_t(N); ++i) {
          if (kind == "bce")
            l -= (std::log(std::clamp(sig(pos[i]), 1e-7, 1 - 1e-7)) +
                  std::log(1 - std::clamp(sig(neg[i]), 1e-7, 1 - 1e-7))) / double(N);
          if (kind == "mine") l -= pos[i] / double(N);
          if (kind == "nce") l -= (pos[i] - std::log(std::exp(pos[i]) + sneg)) / double(N);
          mneg += std::exp(neg[i]) / double(N);
        }
        if (kind == "mine") l += std::log(mneg);
        want += l / double(M);
      }
      test::expect_close(loss.forward_with(x, draws).loss, {want}, 1e-13, 1e-12, "lim " + kind);
      std::vector<Tensor> inputs{x};
      for (const auto& p : loss.parameters()) inputs.push_back(p);
      test::gradcheck([&](const std::vector<Tensor>& in) { return loss.forward_with(in[0], draws).loss; }, inputs);
    }
}

TEST_CASE("lim / gim: draws in range and reproducible from the shared Rng; gim's chunk is 32 frames") {
  LossConfig c = ref::f64_config(2, 2, 2);
  c.lim_hidden = 3;
  c.rng = std::make_shared<Rng>(77);
  Rng init(1);
  LIMLoss a("lim", c, init);
  Tensor x = Tensor::uniform({4, 2, 6, 2}, init, -1, 1, DType::f64);
  const double first = a.forward(x, Tensor()).loss.item();
  c.rng->set_state(77, 0);   // the same stream again: the same draws, the same loss
  CHECK(a.forward(x, Tensor()).loss.item() == first);
  // Every draw lies inside the crop and rolls to another utterance: the shifts 1..N−1 all occur over many draws.
  for (int i = 0; i < 40; ++i) CHECK(std::isfinite(a.forward(x, Tensor()).loss.item()));
  CHECK(a.context_length() == 1);
  CHECK(LIMLoss("gim", c, init).context_length() == 32);
  c.lim_context_length = 4;
  CHECK(LIMLoss("gim", c, init).context_length() == 4);
  LIMLoss g("gim", c, init);
  CHECK_THROWS_WITH_AS(g.forward(Tensor::zeros({4, 2, 3, 2}, DType::f64), Tensor()),
                       doctest::Contains("3 frames per crop in f64(4, 2, 3, 2) cpu are fewer than the chunk's "
                                         "lim_context_length 4"), Error);
  CHECK_THROWS_WITH_AS(g.forward(Tensor::zeros({1, 2, 6, 2}, DType::f64), Tensor()),
                       doctest::Contains("needs at least 2 utterances"), Error);
  CHECK_THROWS_WITH_AS(g.forward_with(x, {{0, 0, 0, 4}, {0, 0, 0, 1}}), doctest::Contains("roll 4 outside [1, 3]"),
                       Error);
  c.lim_loss = "jsd";
  CHECK_THROWS_WITH_AS(make_loss("lim", c), doctest::Contains("lim_loss 'jsd' is not bce, mine or nce"), Error);
  CHECK(make_loss("cpc", cpc_config(2, 2, 2))->reads_frames());
  CHECK_FALSE(make_loss("angleproto", cpc_config(2, 2, 2))->reads_frames());
}
