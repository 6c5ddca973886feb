// SpeakerNet: the interface every speaker-embedding network in nets/ implements, the configuration the
// factory reads, and make_model(), keyed by voxceleb_trainer's --model names.
//
// Input contract: a model maps log-mel features (B, n_mels, T) to embeddings (B, nOut). The front end
// (waveform -> fbank, engine/audio/fbank.h: mel spectrogram, +1e-6, log, instance norm or mean
// subtraction, pre-emphasis where the reference has it) runs OUTSIDE the model, as a data-side step, so
// the networks hold no torchfb / instancenorm buffers. A PyTorch checkpoint's front-end buffers
// (torchfb.*, torchfbank.*) therefore have no counterpart here; the checkpoint loader skips them.
//
// Waveform input: a model that learns its front end from samples (SincNet's sinc layer, RawNet3's ParamSincFB)
// has n_mels() == 1 and takes the raw waveform as (B, 1, L): ModelConfig::n_mels = 1 means waveform input. The
// recipe's `--frontend waveform` (apps/recipe/frontend.h) hands it the 16 kHz samples unchanged, and the apps
// set ModelConfig::n_mels = 1 for the --model names listed in waveform_models() there (a new waveform model
// adds its name to that list). Anything such a model normalises (pre-emphasis, InstanceNorm1d over the
// waveform, as pyannote's SincNet and RawNet3 do) it does inside forward(), with its parameters in its state.
//
// Parameter and buffer names follow the reference PyTorch state_dict names without voxceleb_trainer's
// "__S__." prefix (the loader adds/strips it): see docs/models.md for the name map of each model.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/module.h"

namespace spk {

class Rng;

struct ModelConfig {
  int64_t n_mels = 40;               // --n_mels (feature rows); VGGVox requires 40; 1 = waveform (B, 1, L)
  int64_t nOut = 512;                // --nOut (embedding size)
  std::string encoder_type = "SAP";  // --encoder_type (pooling); the empty string picks the model's default
  int64_t C = 1024;                  // ECAPA-TDNN channels (512 or 1024)
  uint64_t seed = 0;                 // initialisation seed (make_model without an Rng)
  int64_t sinc_stride = 0;           // --sinc_stride of the sinc front ends; 0 = the model's (SincTDNN 5, RawNet3 10)
};

class SpeakerNet : public Module {
 public:
  // feats (B, n_mels, T) -> embeddings (B, nOut). Training mode uses batch statistics in BatchNorm.
  virtual Tensor forward(const Tensor& feats) = 0;
  virtual std::string name() const = 0;    // the --model name
  // The frame-level encoding before pooling, (B, T', D), for the losses that read frames (LossTraits::frames:
  // cpc, lim, gim). Models without one (the default) throw naming the model.
  virtual Tensor frames(const Tensor& feats);
  int64_t n_mels() const { return n_mels_; }
  int64_t embedding_dim() const { return n_out_; }

 protected:
  SpeakerNet(int64_t n_mels, int64_t n_out) : n_mels_(n_mels), n_out_(n_out) {}
  // Throws unless feats is (B, n_mels, T) with B, T >= 1; T >= min_frames (frames the net needs).
  void check_input(const Tensor& feats, int64_t min_frames = 1) const;

 private:
  int64_t n_mels_, n_out_;
};

// Models by --model name: ResNetSE34L, ResNetSE34V2, VGGVox, ECAPA_TDNN, ResNet34 (wespeaker), TDNN
// (x-vector); ResNet18/50/101/152/221/293 (wespeaker, nets/wespeaker_resnet.h), the HardNeg seed's
// ECAPA_TDNN_HardNeg (attention bottleneck 64), ResNet18_HardNeg and ResNet34_HardNeg; the raw-waveform models
// SincTDNN (pyannote-audio) and RawNet3 (voxceleb_trainer). Unknown names and encoder types throw spk::Error naming
// the flag.
std::shared_ptr<SpeakerNet> make_model(const std::string& name, const ModelConfig& config, Rng& rng);
std::shared_ptr<SpeakerNet> make_model(const std::string& name, const ModelConfig& config);
const std::vector<std::string>& model_names();

}  // namespace spk
