// ResNetSE34V2 (see resnet_se34v2.h).
#include "nets/resnet_se34v2.h"

#include "engine/rng.h"

namespace spk {

ResNetSE34V2::ResNetSE34V2(const ModelConfig& config, Rng& rng) : SpeakerNet(config.n_mels, config.nOut) {
  const std::string enc = config.encoder_type.empty() ? "ASP" : config.encoder_type;
  SPK_CHECK(enc == "SAP" || enc == "ASP", "ResNetSE34V2: unknown --encoder_type '", enc,
            "' (ResNetSE34V2 supports SAP, ASP)");
  SPK_CHECK(config.n_mels % 8 == 0, "ResNetSE34V2: --n_mels ", config.n_mels, " must be a multiple of 8");
  asp = enc == "ASP";
  Conv2dOptions stem;
  stem.padding = {1, 1};
  conv1 = register_module("conv1", std::make_shared<Conv2d>(1, 32, std::pair<int64_t, int64_t>{3, 3}, rng, stem));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(32));
  int64_t in = 32;
  layer1 = register_module("layer1", make_se_stage(in, 32, 3, {1, 1}, rng));
  layer2 = register_module("layer2", make_se_stage(in, 64, 4, {2, 2}, rng));
  layer3 = register_module("layer3", make_se_stage(in, 128, 6, {2, 2}, rng));
  layer4 = register_module("layer4", make_se_stage(in, 256, 3, {2, 2}, rng));
  const int64_t d = 256 * (config.n_mels / 8);
  auto att = register_module("attention", std::make_shared<Slots>());
  att_conv0 = att->add("0", std::make_shared<Conv1d>(d, 128, 1, rng));
  att_bn2 = att->add("2", std::make_shared<BatchNorm1d>(128));
  att_conv3 = att->add("3", std::make_shared<Conv1d>(128, d, 1, rng));
  fc = register_module("fc", std::make_shared<Linear>(asp ? 2 * d : d, config.nOut, rng));
  init_conv2d_kaiming(*this, rng);   // Conv2d only: the attention Conv1d keeps PyTorch's default init
}

Tensor ResNetSE34V2::forward(const Tensor& feats) {
  check_input(feats);
  Tensor x = bn1->relu_forward(conv1->forward(unsqueeze(feats, 1)));   // bn1(relu(conv1(x))), fused
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  x = reshape(contiguous(x), {x.size(0), x.size(1) * x.size(2), x.size(3)});   // (B, 256·F'', T'')
  Tensor logits = att_conv3->forward(att_bn2->relu_forward(att_conv0->forward(x)));   // softmax over T: fused
  return fc->forward(attentive_stats_pool(logits, x, asp, 1e-5));
}

}  // namespace spk
