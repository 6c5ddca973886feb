// VGGVox (see vggvox.h).
#include "nets/vggvox.h"

#include "engine/init.h"
#include "engine/rng.h"

namespace spk {

namespace {
struct ConvSpec {
  int64_t in, out;
  std::pair<int64_t, int64_t> k, s, p;
};
const ConvSpec kConvs[6] = {{1, 96, {5, 7}, {1, 2}, {2, 2}},   {96, 256, {5, 5}, {2, 2}, {1, 1}},
                            {256, 384, {3, 3}, {1, 1}, {1, 1}}, {384, 256, {3, 3}, {1, 1}, {1, 1}},
                            {256, 256, {3, 3}, {1, 1}, {1, 1}}, {256, 512, {4, 1}, {1, 1}, {0, 0}}};
const int kConvIndex[6] = {0, 4, 8, 11, 14, 18};   // position of each conv in netcnn; its BN follows
}  // namespace

VGGVox::VGGVox(const ModelConfig& config, Rng& rng) : SpeakerNet(config.n_mels, config.nOut) {
  encoder = config.encoder_type.empty() ? "SAP" : config.encoder_type;
  SPK_CHECK(encoder == "SAP" || encoder == "TAP" || encoder == "MAX", "VGGVox: unknown --encoder_type '", encoder,
            "' (VGGVox supports SAP, TAP, MAX)");
  SPK_CHECK(config.n_mels == 40, "VGGVox: --n_mels ", config.n_mels, " is not supported (the net is built for 40)");
  if (encoder == "SAP") attention = register_parameter("attention", Tensor::empty({512, 1}));
  netcnn = register_module("netcnn", std::make_shared<Slots>());
  for (int i = 0; i < 6; ++i) {
    const ConvSpec& c = kConvs[i];
    Conv2dOptions o;
    o.stride = c.s;
    o.padding = c.p;
    convs.push_back(netcnn->add(std::to_string(kConvIndex[i]), std::make_shared<Conv2d>(c.in, c.out, c.k, rng, o)));
    bns.push_back(netcnn->add(std::to_string(kConvIndex[i] + 1), std::make_shared<BatchNorm2d>(c.out)));
  }
  if (encoder == "SAP") sap_linear = register_module("sap_linear", std::make_shared<Linear>(512, 512, rng));
  fc = register_module("fc", std::make_shared<Linear>(512, config.nOut, rng));
  if (encoder == "SAP") xavier_normal_(attention, rng);
}

Tensor VGGVox::forward(const Tensor& feats) {
  check_input(feats, 63);
  Tensor x = unsqueeze(feats, 1);
  for (int i = 0; i < 6; ++i) {
    x = bns[i]->forward_relu(convs[i]->forward(x));
    if (i == 0) x = max_pool2d(x, {1, 3}, {1, 2});
    if (i == 1 || i == 4) x = max_pool2d(x, {3, 3}, {2, 2});
  }
  x = squeeze(x, 2);                                     // (B, 512, T')
  Tensor e;
  if (encoder == "MAX") e = max(x, 2).first;
  else if (encoder == "TAP") e = mean(x, {2});
  else e = self_attentive_pool(contiguous(transpose(x, 1, 2)), *sap_linear, attention, false);
  return fc->forward(e);
}

}  // namespace spk
