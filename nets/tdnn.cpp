// x-vector TDNN (see tdnn.h).
#include "nets/tdnn.h"

#include "engine/rng.h"

namespace spk {

TdnnLayer::TdnnLayer(int64_t in, int64_t out, int64_t context, int64_t dilation, Rng& rng) {
  Conv1dOptions o;
  o.dilation = dilation;
  conv_1d = register_module("conv_1d", std::make_shared<Conv1d>(in, out, context, rng, o));
  BatchNormOptions b;
  b.affine = false;
  bn = register_module("bn", std::make_shared<BatchNorm1d>(out, b));
}

XVectorTdnn::XVectorTdnn(const ModelConfig& config, Rng& rng) : SpeakerNet(config.n_mels, config.nOut) {
  SPK_CHECK(config.encoder_type.empty() || config.encoder_type == "TSTP", "TDNN: unknown --encoder_type '",
            config.encoder_type, "' (TDNN supports TSTP statistics pooling)");
  frame_1 = register_module("frame_1", std::make_shared<TdnnLayer>(config.n_mels, 512, 5, 1, rng));
  frame_2 = register_module("frame_2", std::make_shared<TdnnLayer>(512, 512, 3, 2, rng));
  frame_3 = register_module("frame_3", std::make_shared<TdnnLayer>(512, 512, 3, 3, rng));
  frame_4 = register_module("frame_4", std::make_shared<TdnnLayer>(512, 512, 1, 1, rng));
  frame_5 = register_module("frame_5", std::make_shared<TdnnLayer>(512, 1500, 1, 1, rng));
  seg_1 = register_module("seg_1", std::make_shared<Linear>(3000, config.nOut, rng));
}

Tensor XVectorTdnn::forward(const Tensor& feats) {
  check_input(feats, 16);
  Tensor x = frame_3->forward(frame_2->forward(frame_1->forward(feats)));
  x = frame_5->forward(frame_4->forward(x));
  return seg_1->forward(temporal_stats(x));
}

}  // namespace spk
