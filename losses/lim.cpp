// ssl-for-slr LIM / GIM; see lim.h.
#include "losses/lim.h"

#include <algorithm>
#include <cmath>

#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/common.h"

namespace spk {

namespace {

constexpr int64_t kGimContext = 32;   // ssl-for-slr's GIM config (multi-v1)

// The mean of z (N, T, D) over frames [p, p + c) -> (N, D).
Tensor chunk(const Tensor& z, int64_t p, int64_t c) { return mean(slice(z, 1, p, p + c), {1}); }

// The largest value of t, as a constant: the shift that keeps exp() in range without changing a log-sum-exp.
double max_value(const Tensor& t) {
  double m = -INFINITY;
  for (double v : t.to_double()) m = std::max(m, v);
  return std::isfinite(m) ? m : 0.0;
}

}  // namespace

Tensor lim_objective(const Tensor& pos, const Tensor& neg, const std::string& kind) {
  SPK_CHECK(pos.dim() == 1 && neg.shape() == pos.shape() && pos.size(0) >= 1, "lim: scores pos ", pos.str(),
            " and neg ", neg.str(), " must both be (N)");
  if (kind == "bce") {
    const double lo = 1e-7, hi = 1 - 1e-7;
    Tensor lp = mean(log(clamp(sigmoid(pos), lo, hi)));
    Tensor ln = mean(log(add_scalar(spk::neg(clamp(sigmoid(neg), lo, hi)), 1.0)));
    return spk::neg(add(lp, ln));
  }
  if (kind == "mine") {   // −[mean(pos) − log mean exp(neg)]
    const double m = max_value(neg);
    Tensor lme = add_scalar(log(mean(exp(add_scalar(neg, -m)))), m);
    return spk::neg(sub(mean(pos), lme));
  }
  SPK_CHECK(kind == "nce", "lim: unknown lim_loss '", kind, "' (bce, mine or nce)");
  // log(exp(pos_i) + Σ_j exp(neg_j)), around the largest of all scores.
  const double m = std::max(max_value(pos), max_value(neg));
  Tensor s_neg = sum(exp(add_scalar(neg, -m)));
  Tensor lse = add_scalar(log(add(exp(add_scalar(pos, -m)), s_neg)), m);
  return spk::neg(mean(sub(pos, lse)));
}

LIMLoss::LIMLoss(const std::string& nm, const LossConfig& c, Rng& rng)
    : Loss(nm, {.per_speaker = PerSpeaker::at_least_two, .test_normalize = true, .metric = MetricKind::accuracy,
                .frames = true}),
      objective_(c.lim_loss), context_(c.lim_context_length > 0 ? c.lim_context_length : (nm == "gim" ? kGimContext : 1)),
      dim_(c.nOut), rng_(c.rng ? c.rng : std::make_shared<Rng>(c.seed)) {
  SPK_CHECK(objective_ == "bce" || objective_ == "mine" || objective_ == "nce", name(), ": lim_loss '", objective_,
            "' is not bce, mine or nce");
  SPK_CHECK(c.lim_context_length >= 0, name(), ": lim_context_length ", c.lim_context_length, " must be 0 or more");
  SPK_CHECK(c.lim_hidden >= 1, name(), ": lim_hidden ", c.lim_hidden, " must be at least 1");
  loss_util::check_dtype(name(), c);
  auto disc = register_module("disc", std::make_shared<ModuleList>());
  hidden = disc->push_back(std::make_shared<Linear>(2 * c.nOut, c.lim_hidden, rng, true, c.dtype));
  out = disc->push_back(std::make_shared<Linear>(c.lim_hidden, 1, rng, true, c.dtype));
}

Tensor LIMLoss::score(const Tensor& a, const Tensor& b) const {
  return reshape(out->forward(relu(hidden->forward(concat({a, b}, 1)))), {a.size(0)});
}

Tensor LIMLoss::check_frames(const Tensor& x) const {
  SPK_CHECK(x.defined() && x.dim() == 4, name(), ": expected frames (N, M, T, D) (--model with a frame encoding, "
            "e.g. CPCEncoder), got ", x.defined() ? x.str() : std::string("undefined"));
  SPK_CHECK(x.size(0) >= 2, name(), ": needs at least 2 utterances (the rolled negatives), got ", x.str());
  SPK_CHECK(x.size(3) == dim_, name(), ": frame size ", x.size(3), " of ", x.str(), " does not match nOut ", dim_);
  SPK_CHECK(x.size(2) >= context_, name(), ": ", x.size(2), " frames per crop in ", x.str(),
            " are fewer than the chunk's lim_context_length ", context_, "; use longer crops or shorter chunks");
  return x;
}

LossOutput LIMLoss::forward(const Tensor& x, const Tensor& labels) {
  check_frames(x);
  check_positional(labels, x.size(0));
  const int64_t N = x.size(0), span = x.size(2) - context_ + 1;
  std::vector<LimDraw> draws;
  for (int64_t m = 0; m < x.size(1); ++m) {
    LimDraw d;
    d.p1 = rng_->randint(0, span);
    d.p2 = rng_->randint(0, span);
    d.p3 = rng_->randint(0, span);
    d.shift = rng_->randint(1, N);
    draws.push_back(d);
  }
  return forward_with(x, draws);
}

LossOutput LIMLoss::forward_with(const Tensor& x, const std::vector<LimDraw>& draws) {
  check_frames(x);
  const int64_t N = x.size(0), M = x.size(1), T = x.size(2);
  SPK_CHECK(int64_t(draws.size()) == M, name(), ": ", draws.size(), " draws for ", M, " views");
  Tensor total;
  int64_t right = 0;
  for (int64_t m = 0; m < M; ++m) {
    const LimDraw& d = draws[size_t(m)];
    for (int64_t p : {d.p1, d.p2, d.p3})
      SPK_CHECK(p >= 0 && p + context_ <= T, name(), ": chunk start ", p, " outside the ", T, " frames");
    SPK_CHECK(d.shift >= 1 && d.shift < N, name(), ": roll ", d.shift, " outside [1, ", N - 1, "]");
    Tensor z = squeeze(slice(x, 1, m, m + 1), 1);                             // (N, T, D)
    Tensor c1 = chunk(z, d.p1, context_), c2 = chunk(z, d.p2, context_), c3 = chunk(z, d.p3, context_);
    std::vector<int64_t> from(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) from[size_t(i)] = ((i - d.shift) % N + N) % N;
    Tensor cr = index_select(c3, 0, Tensor::from_vector(from, {N}, x.device()));
    Tensor pos = score(c1, c2), neg = score(c1, cr);
    Tensor l = lim_objective(pos, neg, objective_);
    total = total.defined() ? add(total, l) : l;
    for (double v : pos.to_double()) right += v > 0;
    for (double v : neg.to_double()) right += v < 0;
  }
  return {mul_scalar(total, 1.0 / double(M)), 100.0 * double(right) / double(2 * N * M), metric_kind()};
}

}  // namespace spk
