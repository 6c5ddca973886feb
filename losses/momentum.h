// Losses that keep a momentum (EMA) copy of the encoder: MoCo's key encoder (moco.h). The copy is a child
// module of the loss, "key_encoder", so it is saved with the loss's state in every checkpoint ("__L__.key_encoder.*")
// and restored on resume like any loss tensor; its parameters are frozen (requires_grad false), so
// training_parameters() leaves them out of the optimiser. spk_eval builds only the model, so none of this reaches
// an embedding.
//
// The trainer drives the three hooks, in this order per step:
//   attach_encoder (once, before any resume: a model of the same architecture from another init stream),
//   set_step_features (before forward: the batch's features, view-major rows m·N + n),
//   after_step (after a successful optimiser step: EMA updates, then whatever the loss queues).
// With --distributed the trainer also hands over its communicator (set_communicator) before the first step; every
// rank then calls after_step alike (the ranks take or skip a step together), so the collectives it makes pair up.
#pragma once
#include <functional>
#include <memory>

#include "losses/loss.h"

namespace spk::dist {
class Communicator;
}

namespace spk {

// target = momentum · target + (1 − momentum) · online over every floating tensor of state() (parameters and
// BatchNorm running statistics, as ssl-for-slr's update over Keras `variables`); integer buffers are copied.
// Both modules must have the same state names, shapes and devices (checked). Runs without recording autograd.
// parameters_only: the parameters alone (wespeaker's DINO), buffers untouched.
void ema_update(const Module& online, Module& target, double momentum, bool parameters_only = false);
// requires_grad false on every parameter of m: a momentum copy takes no gradient and no optimiser step.
void freeze(Module& m);

// Where a step lies in the run, for the schedules (DINO's teacher temperature and momentum).
struct MomentumSchedule {
  int64_t epoch0 = 0, epochs = 1;   // 0-based epoch of the step, --max_epoch
  int64_t step = 0, steps = 1;      // 0-based index of the step in the run, steps in the whole run
};

class MomentumLoss : public Loss {
 public:
  using Loss::Loss;
  using Forward = std::function<Tensor(const Tensor&)>;

  // Registers `key` as the child "key_encoder" (frozen) and initialises it from the online model.
  virtual void attach_encoder(std::shared_ptr<Module> key, Forward key_forward, const Module& online) = 0;
  // The features the model embeds this step: (M·N, ...) rows view-major, as the trainer builds them.
  void set_step_features(const Tensor& feats, int64_t m, int64_t n, MomentumSchedule schedule = MomentumSchedule()) {
    feats_ = feats;
    m_ = m;
    n_ = n;
    schedule_ = schedule;
  }
  virtual void after_step(const Module& online) = 0;
  // --initial_model without the loss's own tensors: the momentum encoder restarts as an exact copy of the loaded model.
  void reset_encoder(const Module& online) { ema_update(online, *key_, 0.0); }
  bool has_encoder() const { return bool(key_); }
  // spk_train --distributed: the ranks' communicator, for the loss state every rank must keep alike (MoCo's queue
  // takes every rank's keys, DINO's centre every rank's batch mean). Null, or world size 1: this process alone.
  void set_communicator(dist::Communicator* comm) { comm_ = comm; }

 protected:
  // Rows [first·N, last·N) of this step's features: views first .. last − 1.
  Tensor view_features(int64_t first, int64_t last) const;

  std::shared_ptr<Module> key_;
  Forward key_forward_;
  Tensor feats_;
  MomentumSchedule schedule_;
  int64_t m_ = 0, n_ = 0;
  dist::Communicator* comm_ = nullptr;
};

}  // namespace spk
