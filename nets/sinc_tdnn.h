// SincTDNN: pyannote-audio 1.x's waveform -> SincNet -> x-vector TDNN speaker embedding
// (pyannote/audio/models/models.py SincTDNN, sincnet.py SincNet, tdnn.py XVectorNet, pooling.py StatsPool, at
// commit 562b74e4), configured as Coria et al. (SLSP 2020, juanmc2005/SpeakerEmbeddingLossComparison
// models/AAM/config.yml): SincNet stride [5, 1, 1], waveform and instance normalisation, embedding_dim 512,
// embedding without batch norm or unit norm (the embedding is segment6's affine output).
//
// Input: the raw waveform (B, 1, L) (the waveform front end; n_mels() is 1). pyannote feeds (B, L, 1) and
// transposes; the numbers are the same.
//   sincnet_: waveform_normalize_ InstanceNorm1d(1, affine)
//     layer i = 0, 1, 2: conv1d_.i -> (|.| for i = 0) -> MaxPool1d(3) -> instance_norm1d_.i InstanceNorm1d(affine)
//                        -> LeakyReLU(0.2)
//     conv1d_.0 SincConv1d(80 filters, 251 taps, stride --sinc_stride = 5; pyannote's sincnet convention, params
//     low_hz_ / band_hz_); conv1d_.1 Conv1d(80, 60, 5); conv1d_.2 Conv1d(60, 60, 5) (strides 1, no padding)
//   tdnn_: tdnn.0 .. tdnn.4 = TDNN(temporal_conv = weight_norm(Conv1d)) -> ReLU, no BatchNorm:
//     contexts [-2, 2] (k5), {-2, 0, 2} (k3 d2), {-3, 0, 3} (k3 d3), {0}, {0}; channels 60 -> 512 x 4 -> 1500
//     -> StatsPool [mean_t; std_t (unbiased, no epsilon)] (3000) -> segment6 Linear(3000, nOut = 512) = embedding.
//     segment7 Linear(nOut, nOut) is a parameter of XVectorNet that representation learning never uses (SincTDNN
//     stops at "segment6"); it is kept so that the state_dict and parameter count are pyannote's (its gradient
//     is always zero).
// State names: pyannote's Model attributes sincnet_.*, tdnn_.* (embedding_ has no parameters).
// Params (nOut 512): SincNet 42,682 (waveform norm 2, sinc 160, convs 24,060 + 18,060, instance norms 160 + 120 +
// 120); TDNN 154,624 + 787,456 + 787,456 + 263,168 + 771,000 (weight_g adds one per output channel);
// segment6 1,536,512; segment7 262,656 -> 4,605,554.
// Frames: L samples -> sinc (L - 251)/s + 1 -> /3 -> -4 -> /3 -> -4 -> /3 = T (floor each), then T - 14 after
// the TDNN, which must be >= 2: L >= 2,646 at stride 5 (3 s = 48,000 samples give 351 SincNet frames).
#pragma once
#include "nets/blocks.h"
#include "nets/model.h"
#include "nets/waveform_blocks.h"

namespace spk {

// pyannote SincNet with the seed's sizes: out_channels [80, 60, 60], kernel_size [251, 5, 5], max_pool [3, 3, 3].
class SincNet : public Module {
 public:
  SincNet(int64_t sinc_stride, Rng& rng);
  Tensor forward(const Tensor& wav) const;   // (B, 1, L) -> (B, 60, T)
  int64_t frames(int64_t samples) const;     // T for L samples (<= 0: too short)
  std::shared_ptr<InstanceNorm1d> waveform_normalize;
  std::shared_ptr<SincConv1d> sinc;
  std::shared_ptr<Conv1d> conv1, conv2;
  std::shared_ptr<ModuleList> instance_norms;
  int64_t sinc_stride;
};

// pyannote TDNN layer: temporal_conv (weight-normalised Conv1d, dilation = the context spacing) -> ReLU.
class PyannoteTdnnLayer : public Module {
 public:
  PyannoteTdnnLayer(int64_t in, int64_t out, int64_t kernel, int64_t dilation, Rng& rng);
  Tensor forward(const Tensor& x) const { return relu(temporal_conv->forward(x)); }
  std::shared_ptr<WeightNormConv1d> temporal_conv;
};

// pyannote XVectorNet(input_dim, embedding_dim) up to segment6.
class PyannoteXVector : public Module {
 public:
  PyannoteXVector(int64_t input_dim, int64_t embedding_dim, Rng& rng);
  Tensor forward(const Tensor& x) const;     // (B, input_dim, T) -> (B, embedding_dim), T >= 16
  std::shared_ptr<ModuleList> tdnn;          // tdnn.0 .. tdnn.4 (PyannoteTdnnLayer); tdnn.5 StatsPool has no state
  std::shared_ptr<Linear> segment6, segment7;
};

class SincTdnn : public SpeakerNet {
 public:
  SincTdnn(const ModelConfig& config, Rng& rng);
  Tensor forward(const Tensor& wav) override;
  std::string name() const override { return "SincTDNN"; }
  int64_t min_samples() const;   // the shortest waveform the net accepts (2 frames into the statistics)
  std::shared_ptr<SincNet> sincnet_;
  std::shared_ptr<PyannoteXVector> tdnn_;
};

}  // namespace spk
