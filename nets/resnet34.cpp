// wespeaker ResNet34-TSTP (see resnet34.h).
#include "nets/resnet34.h"

#include "engine/rng.h"

namespace spk {

namespace {
std::shared_ptr<Stage<BasicBlock>> make_stage(int64_t& in, int64_t out, int64_t blocks, int64_t stride, Rng& rng) {
  auto stage = std::make_shared<Stage<BasicBlock>>();
  for (int64_t i = 0; i < blocks; ++i) {
    stage->push_back(std::make_shared<BasicBlock>(in, out, i == 0 ? stride : 1, rng));
    in = out;
  }
  return stage;
}
}  // namespace

ResNet34::ResNet34(const ModelConfig& config, Rng& rng) : SpeakerNet(config.n_mels, config.nOut) {
  SPK_CHECK(config.encoder_type.empty() || config.encoder_type == "TSTP", "ResNet34: unknown --encoder_type '",
            config.encoder_type, "' (ResNet34 supports TSTP)");
  Conv2dOptions stem;
  stem.padding = {1, 1};
  stem.bias = false;
  conv1 = register_module("conv1", std::make_shared<Conv2d>(1, 32, std::pair<int64_t, int64_t>{3, 3}, rng, stem));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(32));
  int64_t in = 32;
  layer1 = register_module("layer1", make_stage(in, 32, 3, 1, rng));
  layer2 = register_module("layer2", make_stage(in, 64, 4, 2, rng));
  layer3 = register_module("layer3", make_stage(in, 128, 6, 2, rng));
  layer4 = register_module("layer4", make_stage(in, 256, 3, 2, rng));
  // Frequency after three stride-2 3x3 convs with padding 1: n -> ceil(n/2), three times. (wespeaker
  // sizes seg_1 with int(n_mels/8), which agrees for n_mels divisible by 8 and crashes otherwise.)
  int64_t f = config.n_mels;
  for (int i = 0; i < 3; ++i) f = (f + 1) / 2;
  seg_1 = register_module("seg_1", std::make_shared<Linear>(2 * 256 * f, config.nOut, rng));
  // No re-initialisation: wespeaker's ResNet keeps PyTorch's default Conv/Linear init.
}

Tensor ResNet34::forward(const Tensor& feats) {
  check_input(feats, 9);   // T'' = ceil(ceil(ceil(T/2)/2)/2) >= 2 frames for the unbiased variance
  Tensor x = bn1->forward_relu(conv1->forward(unsqueeze(feats, 1)));
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  x = reshape(contiguous(x), {x.size(0), x.size(1) * x.size(2), x.size(3)});
  return seg_1->forward(temporal_stats(x));
}

}  // namespace spk
