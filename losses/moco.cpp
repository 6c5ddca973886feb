// MoCo; see moco.h.
#include "losses/moco.h"

#include <cmath>
#include <optional>
#include <vector>

#include "engine/autograd.h"
#include "engine/dist/communicator.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/common.h"
#include "losses/metrics.h"

namespace spk {

namespace {

constexpr double kInitMomentum = 0.1;   // ssl-for-slr: update_model_weights_with_ema(encoder_q, encoder_k, 0.1)

}  // namespace

Tensor moco_logits(const Tensor& q, const Tensor& k, const Tensor& queue, double temperature) {
  Tensor pos = sum(mul(q, k), {1}, /*keepdim=*/true);        // (N, 1)
  Tensor neg = matmul(q, transpose(queue, 0, 1));            // (N, K)
  return div(concat({pos, neg}, 1), Tensor::scalar(temperature, q.dtype(), q.device()));
}

MoCoLoss::MoCoLoss(const LossConfig& c, Rng& rng)
    : MomentumLoss("moco", {.per_speaker = PerSpeaker::exactly_two, .test_normalize = true,
                            .metric = MetricKind::accuracy}),
      temperature_(c.ssl_temperature), momentum_(c.moco_momentum), key_batch_bn_(c.moco_key_bn == "batch") {
  SPK_CHECK(c.moco_key_bn == "batch" || c.moco_key_bn == "running", name(), ": moco_key_bn '", c.moco_key_bn,
            "' (batch or running)");
  SPK_CHECK(std::isfinite(temperature_) && temperature_ > 0, name(), ": ssl_temperature ", temperature_,
            " must be positive");
  SPK_CHECK(momentum_ >= 0 && momentum_ <= 1, name(), ": moco_momentum ", momentum_, " must be in [0, 1]");
  SPK_CHECK(c.ssl_proj_layers >= 1, name(), ": ssl_proj_layers ", c.ssl_proj_layers,
            ": MoCo needs a projection head of at least one layer (ssl-for-slr: 2 of 512)");
  SPK_CHECK(c.moco_queue >= 1, name(), ": moco_queue ", c.moco_queue, " must be at least 1");
  head = register_module("proj", std::make_shared<ProjectionHead>(c.nOut, c.ssl_proj_dim, c.ssl_proj_layers, rng,
                                                                  c.dtype));
  key_head = register_module("key_proj", std::make_shared<ProjectionHead>(c.nOut, c.ssl_proj_dim,
                                                                          c.ssl_proj_layers, rng, c.dtype));
  freeze(*key_head);
  ema_update(*head, *key_head, kInitMomentum);
  const int64_t K = c.moco_queue, P = c.ssl_proj_dim;
  std::vector<double> init(size_t(K * P));
  for (double& v : init) v = rng.normal();
  queue = register_buffer("queue", l2_normalize(Tensor::from_vector(init, {K, P}, DType::f64), 1).to(c.dtype));
  queue_ptr = register_buffer("queue_ptr", Tensor::from_vector(std::vector<int64_t>{0}, {1}));
}

void MoCoLoss::attach_encoder(std::shared_ptr<Module> key, Forward key_forward, const Module& online) {
  SPK_CHECK(!key_, name(), ": the key encoder is attached once");
  key_ = register_module("key_encoder", std::move(key));
  key_forward_ = std::move(key_forward);
  freeze(*key_);
  ema_update(online, *key_, kInitMomentum);
}

int64_t MoCoLoss::queue_pointer() const { return queue_ptr.to(Device::cpu()).data<int64_t>()[0]; }

void MoCoLoss::enqueue(const Tensor& keys) {
  NoGradGuard ng;
  const int64_t K = queue.size(0), B = keys.size(0);
  SPK_CHECK(B <= K && keys.size(1) == queue.size(1), name(), ": ", B, " keys of ", keys.str(), " for a queue of ",
            queue.str());
  const int64_t p = queue_pointer(), first = std::min(B, K - p);
  Tensor head_part = slice(queue, 0, p, p + first);   // views of the queue's storage
  head_part.copy_(slice(keys, 0, 0, first));
  if (first < B) {   // wrap around to the oldest rows at the start
    Tensor tail = slice(queue, 0, 0, B - first);
    tail.copy_(slice(keys, 0, first, B));
  }
  queue_ptr.copy_(Tensor::from_vector(std::vector<int64_t>{(p + B) % K}, {1}));
}

LossOutput MoCoLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0);
  check_positional(labels, n);
  SPK_CHECK(key_, name(), ": no key encoder attached (the trainer attaches one; see momentum.h)");
  Tensor q = l2_normalize(head->forward(loss_util::group_member(g, 0)), 1);
  {
    NoGradGuard ng;
    // moco_key_bn: batch normalises the keys with the key batch's statistics (train mode, He et al.); running
    // with the key encoder's running statistics (eval mode, ssl-for-slr). See moco.h for why batch is the default.
    std::optional<EvalModeGuard> e1, e2;
    if (!key_batch_bn_) e1.emplace(*key_), e2.emplace(*key_head);
    pending_keys_ = l2_normalize(key_head->forward(key_forward_(view_features(1, 2))), 1);
  }
  SPK_CHECK(pending_keys_.size(0) == n, name(), ": ", pending_keys_.size(0), " keys for ", n, " queries");
  Tensor logits = moco_logits(q, pending_keys_, queue, temperature_);
  Tensor target = Tensor::zeros({n}, DType::i64, x.device());
  return {cross_entropy(logits, target), top1_accuracy(logits, target), metric_kind()};
}

// --distributed: every rank's keys in rank order (MoCo's concat_all_gather), so every rank queues the same W·B keys,
// which are the keys of one process's batch of W·B (rank r holds the r-th slice of each global batch).
Tensor MoCoLoss::gathered_keys() const {
  if (!comm_ || comm_->world_size() == 1) return pending_keys_;
  const Tensor all = comm_->all_gather(pending_keys_);   // (W, B, P)
  return reshape(all, {all.size(0) * all.size(1), all.size(2)});
}

void MoCoLoss::after_step(const Module& online) {
  ema_update(online, *key_, momentum_);
  ema_update(*head, *key_head, momentum_);
  if (pending_keys_.defined()) enqueue(gathered_keys());
  pending_keys_ = Tensor();
}

}  // namespace spk
