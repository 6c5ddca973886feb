// x-vector TDNN, the Snyder et al. 2018 ("X-vectors: robust DNN embeddings") architecture in wespeaker's
// XVEC layout (wespeaker/models/tdnn.py), named "TDNN" in make_model.
//
// Variant: Kaldi-style frame layers as dilated Conv1d, each conv -> ReLU -> BatchNorm (affine=False,
// as Kaldi and wespeaker):
//   frame_1 context [-2, 2]      Conv1d(n_mels, 512, k5, d1)
//   frame_2 context {-2, 0, 2}   Conv1d(512, 512, k3, d2)
//   frame_3 context {-3, 0, 3}   Conv1d(512, 512, k3, d3)
//   frame_4 context {0}          Conv1d(512, 512, k1)
//   frame_5 context {0}          Conv1d(512, 1500, k1)
// No padding (valid convolution, as Kaldi): T frames give T - 14 output frames, so T >= 16.
// -> statistics pooling [mean_t; sqrt(var_t (unbiased) + 1e-7)] (3000, wespeaker TSTP)
// -> seg_1 = segment6 Linear(3000, nOut = 512): its affine output is the x-vector embedding (wespeaker's
// embed_a). The classifier-side segment7 (wespeaker's seg_bn_1 / seg_2) is not part of this model: a
// checkpoint's seg_bn_1.* / seg_2.* entries are reported and skipped on import (apps/recipe/weight_import.cpp).
// Names: frame_1.conv_1d.weight/bias, frame_1.bn.running_mean/running_var/num_batches_tracked, seg_1.*.
// Params (n_mels 80, nOut 512): frame_1 205,312 + frame_2 786,944 + frame_3 786,944 + frame_4 262,656
// + frame_5 769,500 + seg_1 1,536,512 = 4,347,868 (3D-Speaker lists its TDNN as 4.34 M).
#pragma once
#include "nets/blocks.h"
#include "nets/model.h"

namespace spk {

class TdnnLayer : public Module {
 public:
  TdnnLayer(int64_t in, int64_t out, int64_t context, int64_t dilation, Rng& rng);
  Tensor forward(const Tensor& x) { return bn->forward(relu(conv_1d->forward(x))); }
  std::shared_ptr<Conv1d> conv_1d;
  std::shared_ptr<BatchNorm1d> bn;
};

class XVectorTdnn : public SpeakerNet {
 public:
  XVectorTdnn(const ModelConfig& config, Rng& rng);
  Tensor forward(const Tensor& feats) override;
  std::string name() const override { return "TDNN"; }

  std::shared_ptr<TdnnLayer> frame_1, frame_2, frame_3, frame_4, frame_5;
  std::shared_ptr<Linear> seg_1;
};

}  // namespace spk
