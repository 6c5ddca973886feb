// ssl-for-slr CPC; see cpc.h.
#include "losses/cpc.h"

#include <string>

#include "engine/ops.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

namespace {
// x's index i along dim, that dim dropped.
Tensor pick(const Tensor& x, int64_t dim, int64_t i) { return squeeze(slice(x, dim, i, i + 1), dim); }
}  // namespace

Tensor cpc_future_infonce(const Tensor& future, const Tensor& pred, int64_t* correct) {
  SPK_CHECK(future.dim() == 3 && pred.shape() == future.shape(), "cpc: future ", future.str(), " and predictions ",
            pred.str(), " must both be (K, N, D)");
  const int64_t K = future.size(0), N = future.size(1);
  Tensor logits = matmul(future, transpose(pred, 1, 2));           // (K, N, N): [k, i, j] = z_{i,k} · p_{j,k}
  Tensor rows = reshape(logits, {K * N, N});
  Tensor target = loss_util::positional_labels(N, 1, future.device());
  Tensor targets = reshape(expand(unsqueeze(target, 0), {K, N}), {K * N}).contiguous();
  if (correct) *correct = int64_t(top1_accuracy(rows, targets) * double(K * N) / 100.0 + 0.5);
  return cross_entropy(rows, targets);   // the mean over k and i: (1/K) Σ_k (1/N) Σ_i
}

CPCLoss::CPCLoss(const LossConfig& c, Rng& rng)
    : Loss("cpc", {.per_speaker = PerSpeaker::at_least_two, .test_normalize = true, .metric = MetricKind::accuracy,
                   .frames = true}),
      steps_(c.cpc_steps), dim_(c.nOut) {
  SPK_CHECK(c.cpc_steps >= 1, name(), ": cpc_steps ", c.cpc_steps, " must be at least 1");
  SPK_CHECK(c.cpc_context_dim >= 1, name(), ": cpc_context_dim ", c.cpc_context_dim, " must be at least 1");
  loss_util::check_dtype(name(), c);
  gru = register_module("gru", std::make_shared<GRU>(c.nOut, c.cpc_context_dim, rng, true, c.dtype));
  auto list = register_module("predictors", std::make_shared<ModuleList>());
  for (int64_t k = 0; k < steps_; ++k)
    predictors.push_back(list->push_back(std::make_shared<Linear>(c.cpc_context_dim, c.nOut, rng, true, c.dtype)));
}

LossOutput CPCLoss::forward(const Tensor& x, const Tensor& labels) {
  SPK_CHECK(x.defined() && x.dim() == 4, name(), ": expected frames (N, M, T, D) (--model with a frame encoding, "
            "e.g. CPCEncoder), got ", x.defined() ? x.str() : std::string("undefined"));
  const int64_t N = x.size(0), M = x.size(1), T = x.size(2), D = x.size(3);
  check_positional(labels, N);
  SPK_CHECK(N >= 2, name(), ": needs at least 2 utterances (the negatives), got ", x.str());
  SPK_CHECK(D == dim_, name(), ": frame size ", D, " of ", x.str(), " does not match nOut ", dim_);
  SPK_CHECK(T > steps_, name(), ": ", T, " frames per crop in ", x.str(), " leave no context before the ", steps_,
            " predicted steps (cpc_steps); use longer crops or fewer steps");
  // The M views' N sequences run through the context network and the predictors together; only the scoring is
  // per view.
  Tensor z = reshape(contiguous(transpose(x, 0, 1)), {M * N, T, D});     // row m·N + i: view m of utterance i
  Tensor ctx = gru->forward(slice(z, 1, 0, T - steps_));                     // (M·N, T−K, H)
  Tensor c = pick(ctx, 1, T - steps_ - 1);                                   // the last context (M·N, H)
  std::vector<Tensor> preds;
  for (const auto& p : predictors) preds.push_back(unsqueeze(p->forward(c), 0));
  Tensor pred = concat(preds, 0);                                            // (K, M·N, D)
  Tensor future = permute(slice(z, 1, T - steps_, T), {1, 0, 2});           // (K, M·N, D)
  Tensor total;
  int64_t correct = 0;
  for (int64_t m = 0; m < M; ++m) {
    int64_t ok = 0;
    Tensor l = cpc_future_infonce(slice(future, 1, m * N, (m + 1) * N), slice(pred, 1, m * N, (m + 1) * N), &ok);
    correct += ok;
    total = total.defined() ? add(total, l) : l;
  }
  const double acc = 100.0 * double(correct) / double(M * steps_ * N);
  return {mul_scalar(total, 1.0 / double(M)), acc, metric_kind()};
}

}  // namespace spk
