// The common interface of every training loss, its configuration and the factory keyed by
// voxceleb_trainer's --trainfunc names (docs/losses.md has the table of formulas, defaults and reference sources).
//
// A loss is a Module: learnable parameters (W of the margin softmaxes, the w, b scalars of the angular
// prototypical losses, ...) are registered under the names the PyTorch loss classes use, so a checkpoint's
// "__L__.*" entries map onto state() one to one. Everything is built from engine ops (the margin softmaxes and
// the angular similarity losses from the fused ops margin_softmax_ce / similarity_ce, docs/cuda/losses.md), so
// gradients come from autograd and a loss runs on whatever device its parameters and inputs are on.
//
// Batch layout (voxceleb_trainer's): x (N, M, D) with N speakers, M = nPerSpeaker utterances of each, D = nOut;
// classification losses also take x (N, D). labels (N) i64 are class indices in [0, nClasses); the
// prototype-style losses use positional targets (row i is speaker i) and accept undefined labels, but when
// labels are given they must be distinct (the sampler's one-group-per-speaker invariant:
// voxceleb_trainer's prototype losses use torch.arange(N) as labels, valid only because DatasetLoader.py's
// sampler puts each speaker at most once in a batch).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/module.h"

namespace spk {

class Rng;

// The utterances per speaker a loss needs (voxceleb_trainer's asserts on x.size(1)).
enum class PerSpeaker { one, at_least_two, exactly_two };
std::string per_speaker_str(PerSpeaker p);            // "1", ">= 2", "exactly 2"
bool per_speaker_accepts(PerSpeaker p, int64_t m);

// The training metric voxceleb_trainer prints as "TEER/TAcc": top-1 accuracy in % for classification and
// prototype losses, an EER in % for triplet; none for losses that report nothing (CEL's uniformity).
enum class MetricKind { accuracy, eer, none };

// A loss's training metric (%), kept where the loss computed it, so that reading it is the caller's choice:
// a () f64 tensor on the loss's device for the losses that count top-1 hits there (accuracy_percent: every
// accuracy), or a host value for those computed on the host anyway (triplet's EER, lim's sign count). The
// trainer gathers the device ones and reads them with the loss once per --log_interval (issue 17). Reading
// one as a double (value(), or the implicit conversion the tests and host-side code use) is a host read that
// engine/sync_counter.h counts: a device-to-host copy on a GPU.
class LossMetric {
 public:
  LossMetric() = default;
  LossMetric(double host_value) : host_(host_value) {}   // NOLINT: a host figure is a metric as it stands
  LossMetric(Tensor value);                             // NOLINT: () floating, any device; read lazily
  operator double() const { return value(); }           // NOLINT
  double value() const;
  bool on_host() const { return !t_.defined(); }
  const Tensor& tensor() const { return t_; }   // () f64; undefined for a host value
  // () f64 on `device` without a read: the tensor cast (a device op), or the host value made there.
  Tensor as_tensor(Device device) const;

 private:
  Tensor t_;          // () f64, or undefined for a host value
  double host_ = 0;
};

struct LossOutput {
  // Written {loss, metric, kind} by every loss; the constructor spares them the warning field.
  LossOutput() = default;
  LossOutput(Tensor loss_, LossMetric metric_, MetricKind kind, std::string warning_ = {})
      : loss(std::move(loss_)), metric(std::move(metric_)), metric_kind(kind), warning(std::move(warning_)) {}

  Tensor loss;                 // () on the input's device, differentiable
  LossMetric metric;           // % (0 when metric_kind is none)
  MetricKind metric_kind = MetricKind::accuracy;
  // Non-empty when this step's loss is degenerate but defined, e.g. a triplet sampling that found no valid
  // triplet in the batch (the loss is then 0 with zero gradients, never NaN); meant to be logged per step.
  std::string warning;
};

// Every loss's settings in one struct. The defaults are voxceleb_trainer's command-line defaults
// (trainSpeakerNet.py), which reach every loss class through **kwargs and so override the classes' own
// defaults: AM/AAM-softmax are written with margin 0.3, scale 15 and triplet with hard_rank 0,
// hard_prob 0, margin 0, but a VT run without flags trains with the values below (trainSpeakerNet.py's argparse
// defaults --margin 0.1, --scale 30, --hard_rank 10, --hard_prob 0.5).
struct LossConfig {
  // ---- voxceleb_trainer flags ----
  int64_t nOut = 512;          // embedding size D
  int64_t nClasses = 5994;     // VoxCeleb2-dev speakers
  int64_t nPerSpeaker = 1;     // M; checked against the loss's requirement
  double margin = 0.1;         // amsoftmax, aamsoftmax, arc_margin (initial), triplet
  double scale = 30;           // amsoftmax, aamsoftmax, arc_margin
  int64_t hard_rank = 10;      // triplet: pick among the hard_rank + 1 closest negatives; < 0 semi-hard mining
  double hard_prob = 0.5;      // triplet: probability of a hard (rather than uniform) negative

  // ---- every other loss setting: one member per row of losses/loss_settings.def, each a recipe flag of the
  // same name (CEL's uniform_t, sample_type, sim_loss, lambda_s/u; HardNeg's infonce_*; pyannote's pyannote_*;
  // docs/losses.md has the table) ----
#define SPK_LOSS_SETTING_TYPE_STR std::string
#define SPK_LOSS_SETTING_TYPE_INT int64_t
#define SPK_LOSS_SETTING_TYPE_REAL double
#define SPK_LOSS_SETTING_TYPE_BOOL bool
#define SPK_LOSS_SETTING(name, kind, def, losses, help) SPK_LOSS_SETTING_TYPE_##kind name = def;
#include "losses/loss_settings.def"
#undef SPK_LOSS_SETTING

  // ---- randomness and precision ----
  // Parameter initialisation and triplet's negative sampling draw from rng when set (shared with the caller,
  // whose checkpoint can then hold its state), otherwise from a private Rng(seed).
  uint64_t seed = 10;
  std::shared_ptr<Rng> rng;
  DType dtype = DType::f32;    // of the parameters (f64 for gradient checks)
};

// What a loss class declares about itself, passed by name so each value says what it is, e.g.
// Loss("proto", {.per_speaker = PerSpeaker::at_least_two, .test_normalize = false, .metric = MetricKind::accuracy})
struct LossTraits {
  PerSpeaker per_speaker = PerSpeaker::one;
  bool test_normalize = true;   // see Loss::test_normalize()
  MetricKind metric = MetricKind::accuracy;
  // The loss reads the model's frame-level encoding x (N, M, T, D) (SpeakerNet::frames) instead of pooled
  // embeddings: CPC and LIM/GIM predict or discriminate frames inside an utterance (losses/cpc.h, lim.h).
  bool frames = false;
};

class Loss : public Module {
 public:
  Loss(std::string name, const LossTraits& traits)
      : name_(std::move(name)), per_speaker_(traits.per_speaker), test_normalize_(traits.test_normalize),
        metric_(traits.metric), frames_(traits.frames) {}

  // x (N, M, D) or, where M = 1 is accepted, (N, D); labels (N) i64 (see the file comment).
  virtual LossOutput forward(const Tensor& x, const Tensor& labels) = 0;

  const std::string& name() const { return name_; }
  PerSpeaker per_speaker() const { return per_speaker_; }
  // Whether evaluation L2-normalises the crop embeddings before scoring (the loss class's test_normalize).
  bool test_normalize() const { return test_normalize_; }
  MetricKind metric_kind() const { return metric_; }
  bool reads_frames() const { return frames_; }

  // The margin schedule hook (wespeaker's projection.update(margin)); losses without a margin throw.
  virtual bool has_margin() const { return false; }
  virtual double margin() const;
  virtual void set_margin(double m);

 protected:
  // x as (N, M, D) after checking M against per_speaker(); an (N, D) input is (N, 1, D).
  Tensor as_groups(const Tensor& x) const;
  // Classification input as (N, D): x (N, D) or (N, 1, D), with D == d and labels (N) i64 on x's device.
  Tensor as_rows(const Tensor& x, const Tensor& labels, int64_t d) const;
  // Prototype-style losses: labels may be undefined; if defined they must be (N) and all distinct.
  void check_positional(const Tensor& labels, int64_t n) const;

 private:
  std::string name_;
  PerSpeaker per_speaker_;
  bool test_normalize_;
  MetricKind metric_;
  bool frames_;
};

// The loss called `name` (voxceleb_trainer --trainfunc spelling; docs/losses.md lists them), after checking
// the configuration: unknown names, an nPerSpeaker the loss cannot use, and out-of-range settings throw an
// spk::Error naming the loss and the setting.
std::shared_ptr<Loss> make_loss(const std::string& name, const LossConfig& config = {});
std::vector<std::string> loss_names();
// What make_loss(name) will require of nPerSpeaker; false for an unknown name (for checks before any work).
bool loss_per_speaker(const std::string& name, PerSpeaker& out);

}  // namespace spk
