// moco: Momentum Contrast as ssl-for-slr trains it (theolepage/ssl-for-slr, sslforslr/models/moco/MoCo.py;
// He et al., "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020).
//   q = ‖MLP(enc_q(view 0))‖-normalised, k = ‖MLP_k(enc_k(view 1))‖-normalised (no gradient);
//   logits = [q·k, q·queueᵀ] / T (N, 1 + K), T = ssl_temperature (0.07); L = mean_i CE_i(label 0);
//   metric: top-1 in % (the positive ranked first among 1 + K).
// MLP = ProjectionHead(nOut, ssl_proj_dim, ssl_proj_layers): ssl-for-slr's Dense(512) → BN → ReLU → Dense(512)
// is --ssl_proj_layers 2 --ssl_proj_dim 512.
//
// After every optimiser step (after_step), as ssl-for-slr: enc_k ← m·enc_k + (1 − m)·enc_q over all weights and
// BN statistics (m = moco_momentum, 0.999); likewise the key head from the query head; then the step's keys go
// into the queue. At construction / attach, ssl-for-slr's update(…, 0.1): copy ← 0.1·copy + 0.9·online.
// The keys' BatchNorm (moco_key_bn): "batch" (default) runs the key encoder and key head in train mode, so the
// keys are normalised with the key batch's own statistics, as He et al.'s key encoder (their Shuffle BN aside);
// "running" runs them in eval mode on their running statistics, as ssl-for-slr (encoder_k with training=False).
// Why batch is the default: on the demo corpus, "running" collapsed in every setting tried (momentum 0.99 and
// 0.9, temperature 0.07 and 0.2): the pretext accuracy reached 100 % while the loss rose towards ln(1 + K), i.e.
// every key lost its spread, and the EER ended at 42 %; "batch" learnt (docs/ssl.md). In train mode the key
// forward also updates the key encoder's running statistics, which nothing reads (spk_eval embeds with the
// query model) and which the EMA from the query side overwrites in part after every step.
//
// Where spk differs, and why:
//   * the key head is an EMA copy of the query head (wespeaker's and He et al.'s MoCo); ssl-for-slr reuses the
//     query MLP for the keys under stop_gradient. An EMA head keeps the keys consistent across the queue.
//   * the queue starts as unit rows of N(0, 1) (He et al.); ssl-for-slr's tf.random.normal rows are not normalised,
//     which makes the random initial negatives ~√P times stronger than real keys until they are pushed out.
//   * the queue is a ring with a write pointer (He et al.), not ssl-for-slr's concat-and-truncate: the same set of
//     K newest keys, without moving K·P floats per step (the CE does not depend on the order of the negatives).
// --distributed (set_communicator): after each step the keys of every rank are all-gathered in rank order and
// queued (He et al.'s concat_all_gather), so every rank keeps the same queue, the one a single process with the
// W·B batch keeps; --moco_queue must hold W·B keys.
// Children: proj (query head), key_proj (frozen), key_encoder (frozen, attached by the trainer); buffers
// queue (K, P) and queue_ptr (1) i64 — all in the checkpoint, so a resumed run is bit-identical.
#pragma once
#include <memory>

#include "losses/momentum.h"
#include "losses/ssl_projection.h"

namespace spk {

// The (N, 1 + K) logits above, for q, k (N, P) and queue (K, P) as given (rows not re-normalised).
Tensor moco_logits(const Tensor& q, const Tensor& k, const Tensor& queue, double temperature);

class MoCoLoss : public MomentumLoss {
 public:
  MoCoLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  void attach_encoder(std::shared_ptr<Module> key, Forward key_forward, const Module& online) override;
  void after_step(const Module& online) override;

  // Writes keys (B, P) at the pointer, wrapping around, and moves the pointer by B (B <= K).
  void enqueue(const Tensor& keys);
  int64_t queue_pointer() const;

  std::shared_ptr<ProjectionHead> head, key_head;
  Tensor queue, queue_ptr;

 private:
  double temperature_, momentum_;
  Tensor gathered_keys() const;
  bool key_batch_bn_;     // moco_key_bn == "batch"
  Tensor pending_keys_;   // this step's keys, queued by after_step once the step has succeeded
};

}  // namespace spk
