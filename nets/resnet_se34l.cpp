// ResNetSE34L (see resnet_se34l.h).
#include "nets/resnet_se34l.h"

#include "engine/init.h"
#include "engine/rng.h"

namespace spk {

// A stage of SEBasicBlocks as voxceleb_trainer's _make_layer builds it; in is updated to out.
std::shared_ptr<Stage<SEBasicBlock>> make_se_stage(int64_t& in, int64_t out, int64_t blocks,
                                                   std::pair<int64_t, int64_t> stride, Rng& rng) {
  auto stage = std::make_shared<Stage<SEBasicBlock>>();
  stage->push_back(std::make_shared<SEBasicBlock>(in, out, stride, rng));
  in = out;
  for (int64_t i = 1; i < blocks; ++i) stage->push_back(std::make_shared<SEBasicBlock>(out, out, std::pair<int64_t, int64_t>{1, 1}, rng));
  return stage;
}

ResNetSE34L::ResNetSE34L(const ModelConfig& config, Rng& rng, std::array<int64_t, 4> nf)
    : SpeakerNet(config.n_mels, config.nOut) {
  const std::string enc = config.encoder_type.empty() ? "SAP" : config.encoder_type;
  SPK_CHECK(enc == "SAP" || enc == "ASP", "ResNetSE34L: unknown --encoder_type '", enc,
            "' (ResNetSE34L supports SAP, ASP)");
  asp = enc == "ASP";
  const int64_t c4 = nf[3];
  attention = register_parameter("attention", Tensor::empty({c4, 1}));
  Conv2dOptions stem;
  stem.stride = {2, 1};
  stem.padding = {3, 3};
  stem.bias = false;
  conv1 = register_module("conv1", std::make_shared<Conv2d>(1, nf[0], std::pair<int64_t, int64_t>{7, 7}, rng, stem));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(nf[0]));
  int64_t in = nf[0];
  layer1 = register_module("layer1", make_se_stage(in, nf[0], 3, {1, 1}, rng));
  layer2 = register_module("layer2", make_se_stage(in, nf[1], 4, {2, 2}, rng));
  layer3 = register_module("layer3", make_se_stage(in, nf[2], 6, {2, 2}, rng));
  layer4 = register_module("layer4", make_se_stage(in, nf[3], 3, {1, 1}, rng));
  sap_linear = register_module("sap_linear", std::make_shared<Linear>(c4, c4, rng));
  fc = register_module("fc", std::make_shared<Linear>(asp ? 2 * c4 : c4, config.nOut, rng));
  init_conv2d_kaiming(*this, rng);
  xavier_normal_(attention, rng);
}

Tensor ResNetSE34L::forward(const Tensor& feats) {
  check_input(feats);
  Tensor x = bn1->forward_relu(conv1->forward(unsqueeze(feats, 1)));
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  x = contiguous(transpose(mean(x, {2}), 1, 2));        // (B, T', C4)
  return fc->forward(self_attentive_pool(x, *sap_linear, attention, asp));
}

}  // namespace spk
