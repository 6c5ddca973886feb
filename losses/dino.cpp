// DINO; see dino.h.
#include "losses/dino.h"

#include <cmath>
#include <numbers>

#include "engine/autograd.h"
#include "engine/dist/communicator.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "losses/common.h"

namespace spk {

namespace {

// Overwrites t (any float dtype, CPU at construction) with values drawn by `draw`.
template <class Draw>
void fill(Tensor& t, Draw draw) {
  std::vector<double> v(size_t(t.numel()));
  for (double& x : v) x = draw();
  t.copy_(Tensor::from_vector(v, t.shape(), DType::f64));
}

}  // namespace

Tensor gelu_tanh(const Tensor& x) {
  const double c = std::sqrt(2.0 / std::numbers::pi);
  Tensor inner = mul_scalar(add(x, mul_scalar(mul(mul(x, x), x), 0.044715)), c);
  return mul(mul_scalar(x, 0.5), add_scalar(tanh(inner), 1.0));
}

DinoHead::DinoHead(int64_t in, int64_t hidden, int64_t bottleneck, int64_t out, Rng& rng, DType dtype) {
  SPK_CHECK(in >= 1 && hidden >= 1 && bottleneck >= 1 && out >= 1, "DINO head: sizes must be >= 1, got ", in, ", ",
            hidden, ", ", bottleneck, ", ", out);
  const int64_t dims[4] = {in, hidden, hidden, bottleneck};
  for (int i = 0; i < 3; ++i) {
    auto fc = register_module("fc" + std::to_string(i), std::make_shared<Linear>(dims[i], dims[i + 1], rng, true, dtype));
    fill(fc->weight, [&] { return 0.02 * rng.normal(); });   // trunc_normal_(std=.02), bias 0 (_init_weights)
    fill(fc->bias, [] { return 0.0; });
    fc_.push_back(fc);
    if (i < 2)
      bn_.push_back(register_module("bn" + std::to_string(i),
                                    std::make_shared<BatchNorm1d>(hidden, BatchNormOptions{.dtype = dtype})));
  }
  // nn.Linear(bottleneck, out, bias=False)'s default init, kaiming_uniform(a = √5): U(−1/√fan_in, 1/√fan_in).
  last_v_ = Tensor::empty({out, bottleneck}, dtype);
  const double bound = 1.0 / std::sqrt(double(bottleneck));
  fill(last_v_, [&] { return rng.uniform(-bound, bound); });
  last_v_ = register_parameter("last_weight_v", last_v_);
}

Tensor DinoHead::forward(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < fc_.size(); ++i) {
    h = fc_[i]->forward(h);
    if (i < bn_.size()) h = gelu_tanh(bn_[i]->forward(h));
  }
  // weight_norm with g = 1: every prototype row has unit norm, so the logits are cosines.
  return matmul(l2_normalize(h, 1), transpose(l2_normalize(last_v_, 1), 0, 1));
}

double dino_teacher_temp(double warmup, double final, int64_t epoch0, int64_t epochs) {
  const int64_t w = int64_t(double(epochs) * 0.2);   // int(nepochs * warmup_teacher_temp_epochs_ratio)
  if (epoch0 >= w) return final;
  if (w == 1) return warmup;                          // np.linspace(a, b, 1) == [a]
  return warmup + (final - warmup) * double(epoch0) / double(w - 1);
}

double dino_teacher_momentum(double base, int64_t it, int64_t total) {
  if (total <= 1) return base;
  return 1.0 - (1.0 - base) * (std::cos(std::numbers::pi * double(it) / double(total)) + 1.0) / 2.0;
}

Tensor dino_cross_entropy(const Tensor& s, const Tensor& t, const Tensor& center, int64_t m, int64_t n,
                          double student_temp, double teacher_temp) {
  Tensor p;   // teacher probabilities (2N, K), constants for the student
  {
    NoGradGuard ng;
    p = softmax(mul_scalar(sub(t, center), 1.0 / teacher_temp), 1);
  }
  Tensor logp = log_softmax(mul_scalar(s, 1.0 / student_temp), 1);   // (M·N, K)
  Tensor total;
  int64_t terms = 0;
  for (int64_t g = 0; g < 2; ++g)
    for (int64_t v = 0; v < m; ++v) {
      if (v == g) continue;
      Tensor ce = mean(sum(mul(slice(p, 0, g * n, (g + 1) * n), slice(logp, 0, v * n, (v + 1) * n)), {1}));
      total = total.defined() ? add(total, ce) : ce;
      ++terms;
    }
  return mul_scalar(total, -1.0 / double(terms));
}

DinoLoss::DinoLoss(const LossConfig& c, Rng& rng)
    : MomentumLoss("dino", {.per_speaker = PerSpeaker::at_least_two, .test_normalize = true,
                            .metric = MetricKind::none}),
      student_temp_(c.dino_student_temp), teacher_temp_(c.dino_teacher_temp),
      warmup_teacher_temp_(c.dino_warmup_teacher_temp), center_momentum_(c.dino_center_momentum),
      momentum_(c.dino_momentum) {
  SPK_CHECK(student_temp_ > 0 && teacher_temp_ > 0 && warmup_teacher_temp_ > 0, name(), ": temperatures must be > 0");
  SPK_CHECK(center_momentum_ >= 0 && center_momentum_ <= 1 && momentum_ >= 0 && momentum_ <= 1, name(),
            ": momenta must be in [0, 1]");
  head = register_module("proj", std::make_shared<DinoHead>(c.nOut, c.dino_hidden, c.dino_bottleneck, c.dino_out,
                                                            rng, c.dtype));
  key_head = register_module("key_proj", std::make_shared<DinoHead>(c.nOut, c.dino_hidden, c.dino_bottleneck,
                                                                    c.dino_out, rng, c.dtype));
  freeze(*key_head);
  ema_update(*head, *key_head, 0.0);   // load_state_dict: the teacher head starts as the student's
  center = register_buffer("center", Tensor::zeros({1, c.dino_out}, c.dtype));
}

void DinoLoss::attach_encoder(std::shared_ptr<Module> key, Forward key_forward, const Module& online) {
  SPK_CHECK(!key_, name(), ": the teacher encoder is attached once");
  key_ = register_module("key_encoder", std::move(key));
  key_forward_ = std::move(key_forward);
  freeze(*key_);
  ema_update(online, *key_, 0.0);   // copy.deepcopy(base_model)
}

LossOutput DinoLoss::forward(const Tensor& x, const Tensor& labels) {
  Tensor g = as_groups(x);
  const int64_t n = g.size(0), m = g.size(1);
  check_positional(labels, n);
  SPK_CHECK(m >= 3, name(), ": ", m, " crops per utterance; DINO needs the 2 global views and at least one local "
            "crop (--ssl_local_views)");
  SPK_CHECK(key_, name(), ": no teacher encoder attached (the trainer attaches one; see momentum.h)");
  // Student: every crop through the head as one batch (wespeaker concatenates global and local outputs).
  Tensor rows = reshape(transpose(g, 0, 1), {m * n, g.size(2)});   // view-major
  Tensor s = head->forward(rows);
  {
    NoGradGuard ng;
    pending_teacher_ = key_head->forward(key_forward_(view_features(0, 2)));
  }
  const double tt = dino_teacher_temp(warmup_teacher_temp_, teacher_temp_, schedule_.epoch0, schedule_.epochs);
  return {dino_cross_entropy(s, pending_teacher_, center, m, n, student_temp_, tt), 0.0, metric_kind()};
}

void DinoLoss::after_step(const Module& online) {
  NoGradGuard ng;
  if (pending_teacher_.defined()) {
    Tensor batch_center = mean(pending_teacher_, {0}, /*keepdim=*/true);
    // --distributed: the mean over every rank's teacher outputs (wespeaker's all_reduce of batch_center; the
    // ranks' batches are equally large), so every rank keeps the same centre
    if (comm_ && comm_->world_size() > 1) comm_->all_reduce(batch_center, dist::ReduceOp::mean);
    center.copy_(add(mul_scalar(center, center_momentum_), mul_scalar(batch_center, 1.0 - center_momentum_)));
  }
  pending_teacher_ = Tensor();
  const double mt = dino_teacher_momentum(momentum_, schedule_.step, schedule_.steps);
  ema_update(online, *key_, mt, /*parameters_only=*/true);
  ema_update(*head, *key_head, mt, /*parameters_only=*/true);
}

}  // namespace spk
