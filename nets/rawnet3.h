// RawNet3, voxceleb_trainer models/RawNet3.py + models/RawNetBasicBlock.py (Jung et al., "Pushing the limits of
// raw waveform speaker recognition", Interspeech 2022, arXiv 2203.08488), as its MainModel builds it: Bottle2neck
// blocks, model_scale 8, context True, summed True, C 1024, log_sinc True, norm_sinc "mean", out_bn False.
//
// Input: the raw waveform (B, 1, L) (the waveform front end; n_mels() is 1). The reference's front end is part of
// the model and runs in float32 (autocast off):
//   preprocess.0 PreEmphasis(0.97): y[t] = x[t] - 0.97 x[t-1], reflect pad so y[0] = x[0] - 0.97 x[1]
//     (conv1d with the buffer flipped_filter [-0.97, 1], shape (1, 1, 2))
//   preprocess.1 InstanceNorm1d(1, eps 1e-4, affine)
//   conv1 = asteroid Encoder(ParamSincFB(C/4 = 256 filters, 251 taps, stride --sinc_stride = 10)): 128 cut-off rows
//     (conv1.filterbank.low_hz_ / band_hz_ (128, 1)) give 128 cosine and 128 sine filters; the buffers window_
//     (125) and n_ (1, 125) are the reference's (its state_dict holds them; spk's filters come from the formula)
//   -> |.| -> log(x + 1e-6) -> minus the time mean of each filter
// -> layer1 Bottle2neck(C/4 -> C, k3, d2, pool 5), layer2 (C -> C, k3, d3, pool 3), layer3 (C -> C, k3, d4)
//    with x3 = layer3(mp3(x1) + x2) (summed), mp3 = MaxPool1d(3)
// -> layer4 Conv1d(3C, 1536, 1) on cat(mp3(x1), x2, x3) -> ReLU
// -> attention on cat(x, mean_t x, sqrt(clamp(var_t x (unbiased), 1e-4, 1e4))) (4608):
//    attention.0 Conv1d(4608, 128) -> ReLU -> attention.2 BN1d(128) -> attention.3 Conv1d(128, 1536 (ECA) or 1 (ASP))
//    -> softmax over time
// -> [mu; sqrt(clamp(sum w x^2 - mu^2, 1e-4, 1e4))] (3072) -> bn5 -> fc6 Linear(3072, nOut = 256).
// bn1 BatchNorm1d(C/4) and bn6 BatchNorm1d(nOut) are registered by the reference but unused by its forward
// (out_bn False): kept for the state_dict and parameter count, their gradients are always zero.
// Bottle2neck(in, planes, k, d, scale 8, pool): width = planes/8; conv1 1x1 -> ReLU -> bn1; 7 branch convs
// (convs.i, bns.i: conv -> ReLU -> BN, hierarchical sum sp = sp + spx[i]), the 8th split passes; conv3 1x1 ->
// ReLU -> bn3; + residual (residual.0 = Conv1d(in, planes, 1, no bias) when in != planes); MaxPool1d(pool) when
// set; AFMS: (x + alpha) * sigmoid(afms.fc(mean_t x)), alpha (planes, 1) init 1.
// Params (C 1024, nOut 256, ECA): preprocess 2 + sinc 256 + bn1 512 + layer1 2,976,384 (conv1 263,168, bn1 2,048,
// convs 344,960, bns 1,792, conv3 1,049,600, bn3 2,048, afms 1,050,624, residual 262,144) + layer2, layer3
// 3,500,672 each + layer4 4,720,128 + attention 788,352 + bn5 6,144 + fc6 786,688 + bn6 512 = 16,280,322
// (counted from the reference module); ASP: attention 590,337, total 16,082,307.
// Frames: L samples -> (L - 251)/s + 1 after the sinc layer -> /5 -> /3 (floor each) = T >= 2 for the unbiased
// variance: L >= 251 + 29 s (541 at stride 10; 4 s = 64,000 samples give 426 frames).
#pragma once
#include "nets/blocks.h"
#include "nets/model.h"
#include "nets/waveform_blocks.h"

namespace spk {

// voxceleb_trainer PreEmphasis(coef 0.97): x (B, 1, L) -> (B, 1, L).
class PreEmphasis : public Module {
 public:
  explicit PreEmphasis(double coef = 0.97);
  Tensor forward(const Tensor& x) const;
  Tensor flipped_filter;   // buffer (1, 1, 2) = [-coef, 1]
};

// Alpha feature map scaling (RawNet2): (x + alpha) * sigmoid(fc(mean_t x)). x (B, C, T).
class AFMS : public Module {
 public:
  AFMS(int64_t channels, Rng& rng);
  Tensor forward(const Tensor& x) const;
  Tensor alpha;   // (C, 1)
  std::shared_ptr<Linear> fc;
};

// RawNetBasicBlock.py Bottle2neck (differs from ECAPA's: residual projection, max-pool and AFMS instead of SE).
class RawBottle2neck : public Module {
 public:
  RawBottle2neck(int64_t inplanes, int64_t planes, int64_t kernel, int64_t dilation, int64_t scale, int64_t pool,
                 Rng& rng);
  Tensor forward(const Tensor& x) const;
  int64_t width, nums, pool;
  std::shared_ptr<Conv1d> conv1, conv3;
  std::shared_ptr<BatchNorm1d> bn1, bn3;
  std::shared_ptr<ModuleList> convs, bns;
  std::shared_ptr<AFMS> afms;
  std::shared_ptr<Conv1d> residual;   // residual.0, null when inplanes == planes
};

// asteroid Encoder(ParamSincFB(n_filters, 251, stride)): the filterbank as its child "filterbank" (SincConv1d with
// the asteroid convention: n_filters / 2 cut-off rows, a cosine and a sine filter each, and ParamSincFB's buffers
// window_ / n_, which the forward never reads). (B, 1, L) -> (B, n_filters, L').
class ParamSincEncoder : public Module {
 public:
  ParamSincEncoder(int64_t n_filters, int64_t stride);
  Tensor forward(const Tensor& x) const { return filterbank->forward(x); }
  std::shared_ptr<SincConv1d> filterbank;
};

class RawNet3 : public SpeakerNet {
 public:
  RawNet3(const ModelConfig& config, Rng& rng);
  Tensor forward(const Tensor& wav) override;
  std::string name() const override { return "RawNet3"; }
  int64_t min_samples() const;   // the shortest waveform the net accepts (2 frames into the statistics)
  Tensor features(const Tensor& wav) const;   // the sinc front end: (B, 1, L) -> (B, C/4, L')

  std::shared_ptr<PreEmphasis> pre_emphasis;
  std::shared_ptr<InstanceNorm1d> wave_norm;
  std::shared_ptr<ParamSincEncoder> conv1;
  std::shared_ptr<BatchNorm1d> bn1, att_bn2, bn5, bn6;
  std::shared_ptr<RawBottle2neck> layer1, layer2, layer3;
  std::shared_ptr<Conv1d> layer4, att_conv0, att_conv3;
  std::shared_ptr<Linear> fc6;
  int64_t sinc_stride;
};

}  // namespace spk
