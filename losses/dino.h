// dino: self-distillation with no labels (Caron et al., "Emerging Properties in Self-Supervised Vision
// Transformers", ICCV 2021) in wespeaker's speaker recipe shape (wenet-e2e/wespeaker, wespeaker/ssl/models/
// dino_wrapper.py, examples/voxceleb/v3/dino/conf/ecapa_tdnn.yaml).
//
// Crops: x (N, M, D) with M = 2 global views then M − 2 local ones (--ssl_local_views; the trainer embeds the
// local ones from their first --ssl_local_frames frames, apps/recipe/ssl_mode.h). The teacher sees the 2 global
// views only (the key encoder's features of views 0 and 1).
//   s_v = head(x[:, v]) / τ_s                     student, every crop v          (τ_s = dino_student_temp, 0.1)
//   p_g = softmax((head_t(enc_t(global g)) − c) / τ_t)   teacher, g ∈ {0, 1}, no gradient
//   L = Σ_{g} Σ_{v ≠ g} mean_i [ −Σ_k p_g[i, k] · log_softmax(s_v[i])_k ] / #terms   (#terms = 2(M − 1))
// τ_t per epoch: linear from dino_warmup_teacher_temp (0.04) to dino_teacher_temp (0.07) over the first
// int(0.2 · max_epoch) epochs (np.linspace, as wespeaker), then dino_teacher_temp.
// After each optimiser step: c ← m_c · c + (1 − m_c) · mean over the 2N teacher outputs (before centring),
// m_c = dino_center_momentum (0.9); teacher ← m · teacher + (1 − m) · student over the parameters of encoder
// and head (wespeaker: parameters only; the teacher's BN keeps its own running statistics), with DINO's cosine
// schedule m = 1 − (1 − dino_momentum) · (cos(π · it / total) + 1) / 2 for the step's index it.
// The teacher starts as an exact copy of the student (wespeaker's deepcopy and load_state_dict) and runs in train
// mode (batch statistics), as wespeaker's t_model does inside the training module.
//
// Head (DinoHead, wespeaker's DINOHead with nlayers 3, use_bn true, norm_last_layer true):
//   Linear(D, H) → BN → GELU → Linear(H, H) → BN → GELU → Linear(H, B) → l2-normalise → Linear(B, K, no bias)
// with the last weight W = v / ‖v‖ per row (torch weight_norm with g fixed at 1). H, B, K = dino_hidden,
// dino_bottleneck, dino_out. Linear weights N(0, 0.02²) (trunc_normal_ at ±2, which N(0, 0.02²) never reaches),
// biases 0; v PyTorch's default Linear init. GELU is the tanh form (there is no erf op; the two differ by < 1e-3).
// Not done: wespeaker's freeze_last_layer (no gradient to v in epoch 1) and clip_grad 3.0.
//
// --distributed (set_communicator): the centre's batch mean is all-reduced over the ranks (wespeaker's DINOLoss
// update_center), so every rank keeps the same centre.
// Children: proj (student head), key_proj (teacher head, frozen), key_encoder (teacher, frozen, attached by the
// trainer); buffer center (1, K). All are in the checkpoint, so a resumed run is bit-identical. metric: none.
#pragma once
#include <memory>
#include <vector>

#include "engine/layers.h"
#include "losses/momentum.h"

namespace spk {

// 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))), from engine ops (so autograd differentiates it).
Tensor gelu_tanh(const Tensor& x);

class DinoHead : public Module {
 public:
  DinoHead(int64_t in, int64_t hidden, int64_t bottleneck, int64_t out, Rng& rng, DType dtype = DType::f32);
  Tensor forward(const Tensor& x);   // (B, in) -> (B, out)

 private:
  std::vector<std::shared_ptr<Linear>> fc_;        // fc0, fc1, fc2
  std::vector<std::shared_ptr<BatchNorm1d>> bn_;   // bn0, bn1
  Tensor last_v_;                                  // (out, bottleneck): "last_layer.weight_v"
};

// The teacher temperature of epoch e (0-based) of `epochs` (wespeaker's teacher_temp_schedule).
double dino_teacher_temp(double warmup, double final, int64_t epoch0, int64_t epochs);
// The teacher momentum after step `it` (0-based) of `total` (DINO's cosine_scheduler(base, 1)).
double dino_teacher_momentum(double base, int64_t it, int64_t total);
// The loss above from the student logits s (M·N, K) view-major, the teacher logits t (2·N, K) and centre (1, K).
Tensor dino_cross_entropy(const Tensor& s, const Tensor& t, const Tensor& center, int64_t m, int64_t n,
                          double student_temp, double teacher_temp);

class DinoLoss : public MomentumLoss {
 public:
  DinoLoss(const LossConfig& config, Rng& rng);
  LossOutput forward(const Tensor& x, const Tensor& labels) override;
  void attach_encoder(std::shared_ptr<Module> key, Forward key_forward, const Module& online) override;
  void after_step(const Module& online) override;

  std::shared_ptr<DinoHead> head, key_head;
  Tensor center;

 private:
  double student_temp_, teacher_temp_, warmup_teacher_temp_, center_momentum_, momentum_;
  Tensor pending_teacher_;   // this step's teacher logits (2N, K), for the centre once the step has succeeded
};

}  // namespace spk
