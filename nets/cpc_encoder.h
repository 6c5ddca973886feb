// CPCEncoder: the raw-waveform frame encoder of Contrastive Predictive Coding (van den Oord et al., "Representation
// learning with contrastive predictive coding", arXiv:1807.03748, §3.1: five strided convolutions, strides
// [5, 4, 2, 2, 2], filter sizes [10, 8, 4, 4, 4], ReLU, one 512-d frame every 160 samples = 10 ms at 16 kHz), the
// encoder ssl-for-slr offers its CPC and LIM/GIM models (sslforslr/models/encoders/CPCEncoder). Named "CPCEncoder"
// in make_model; a waveform model (n_mels 1: input (B, 1, L), --frontend waveform).
//   waveform_normalize_  InstanceNorm1d(1, affine) on the samples (per-utterance mean/std, as pyannote's SincNet):
//                        the demo's and VoxCeleb's levels differ, the frames should not
//   blocks.<i>           Conv1d(C_in, nOut, k_i, stride s_i, no padding) → BatchNorm1d → ReLU, i = 0..4
// BatchNorm after each conv is spk's (the paper names conv + ReLU only): it keeps the 5-deep stack trainable at the
// demo's small batches. Width nOut for every layer (the paper's 512).
//   frames(wav)   Z (B, T', nOut), T' = the valid-convolution length (a 2-s crop, --max_frames 200: 199 frames); what
//                 the frame-level losses (cpc, lim, gim) read
//   forward(wav)  the embedding: the mean of Z over time (B, nOut). ssl-for-slr evaluates its CPC/LIM encoders
//                 on pooled encoder frames the same way; the GRU context network and the predictors/discriminator
//                 belong to the loss and are not part of it.
// An input shorter than 465 samples (one output frame) is refused naming the model.
#pragma once
#include <memory>

#include "engine/layers.h"
#include "nets/model.h"

namespace spk {

class CPCEncoder : public SpeakerNet {
 public:
  CPCEncoder(const ModelConfig& config, Rng& rng);
  Tensor forward(const Tensor& wav) override;
  Tensor frames(const Tensor& wav) override;
  std::string name() const override { return "CPCEncoder"; }
  // Output frames for L samples (0 when L is below the receptive field).
  static int64_t frames_for(int64_t samples);

  std::shared_ptr<InstanceNorm1d> waveform_normalize;
  std::shared_ptr<ModuleList> blocks;
};

}  // namespace spk
