// ECAPA-TDNN (see ecapa_tdnn.h).
#include "nets/ecapa_tdnn.h"

#include <limits>
#include <utility>

#include "engine/rng.h"

namespace spk {

Bottle2neck::Bottle2neck(int64_t channels, int64_t kernel, int64_t dilation, int64_t scale, Rng& rng)
    : width(channels / scale), nums(scale - 1) {
  conv1 = register_module("conv1", std::make_shared<Conv1d>(channels, width * scale, 1, rng));
  bn1 = register_module("bn1", std::make_shared<BatchNorm1d>(width * scale));
  convs = register_module("convs", std::make_shared<ModuleList>());
  bns = register_module("bns", std::make_shared<ModuleList>());
  Conv1dOptions o;
  o.dilation = dilation;
  o.padding = (kernel / 2) * dilation;
  for (int64_t i = 0; i < nums; ++i) {
    convs->push_back(std::make_shared<Conv1d>(width, width, kernel, rng, o));
    bns->push_back(std::make_shared<BatchNorm1d>(width));
  }
  conv3 = register_module("conv3", std::make_shared<Conv1d>(width * scale, channels, 1, rng));
  bn3 = register_module("bn3", std::make_shared<BatchNorm1d>(channels));
  auto se = register_module("se", std::make_shared<Slots>());
  auto seq = se->add("se", std::make_shared<Slots>());
  se_conv1 = seq->add("1", std::make_shared<Conv1d>(channels, 128, 1, rng));
  se_conv3 = seq->add("3", std::make_shared<Conv1d>(128, channels, 1, rng));
}

Tensor Bottle2neck::forward(const Tensor& x) {
  Tensor out = bn1->relu_forward(conv1->forward(x));
  std::vector<Tensor> spx = split(out, std::vector<int64_t>(size_t(nums + 1), width), 1);
  std::vector<Tensor> parts;
  Tensor sp;
  for (int64_t i = 0; i < nums; ++i) {
    sp = i == 0 ? spx[0] : sp + spx[size_t(i)];
    sp = bns->at<BatchNorm1d>(size_t(i)).relu_forward(convs->at<Conv1d>(size_t(i)).forward(contiguous(sp)));
    parts.push_back(sp);
  }
  parts.push_back(spx[size_t(nums)]);
  out = bn3->relu_forward(conv3->forward(concat(parts, 1)));
  // The SE module as one fused op (kernels/se): its 1x1 convs on the (B, C, 1) mean are Linear layers, so their
  // (out, in, 1) weights are passed as (out, in) views; the parameters (se.se.1.*, se.se.3.*) are unchanged.
  const Tensor& w1 = se_conv1->weight;
  const Tensor& w3 = se_conv3->weight;
  return squeeze_excite(out, reshape(w1, {w1.size(0), w1.size(1)}), se_conv1->bias,
                        reshape(w3, {w3.size(0), w3.size(1)}), se_conv3->bias) + x;
}

EcapaTdnn::EcapaTdnn(const ModelConfig& config, Rng& rng, int64_t attention_channels, std::string name)
    : SpeakerNet(config.n_mels, config.nOut), name_(std::move(name)) {
  SPK_CHECK(config.encoder_type.empty() || config.encoder_type == "ASP", name_, ": unknown --encoder_type '",
            config.encoder_type, "' (ECAPA_TDNN has its own context-aware attentive statistics pooling, ASP)");
  SPK_CHECK(config.C >= 8 && config.C % 8 == 0, name_, ": --C ", config.C, " must be a positive multiple of 8");
  const int64_t c = config.C;
  Conv1dOptions p2;
  p2.padding = 2;
  conv1 = register_module("conv1", std::make_shared<Conv1d>(config.n_mels, c, 5, rng, p2));
  bn1 = register_module("bn1", std::make_shared<BatchNorm1d>(c));
  layer1 = register_module("layer1", std::make_shared<Bottle2neck>(c, 3, 2, 8, rng));
  layer2 = register_module("layer2", std::make_shared<Bottle2neck>(c, 3, 3, 8, rng));
  layer3 = register_module("layer3", std::make_shared<Bottle2neck>(c, 3, 4, 8, rng));
  layer4 = register_module("layer4", std::make_shared<Conv1d>(3 * c, 1536, 1, rng));
  auto att = register_module("attention", std::make_shared<Slots>());
  att_conv0 = att->add("0", std::make_shared<Conv1d>(4608, attention_channels, 1, rng));
  att_bn2 = att->add("2", std::make_shared<BatchNorm1d>(attention_channels));
  att_conv4 = att->add("4", std::make_shared<Conv1d>(attention_channels, 1536, 1, rng));
  bn5 = register_module("bn5", std::make_shared<BatchNorm1d>(3072));
  fc6 = register_module("fc6", std::make_shared<Linear>(3072, config.nOut, rng));
  bn6 = register_module("bn6", std::make_shared<BatchNorm1d>(config.nOut));
}

Tensor EcapaTdnn::forward(const Tensor& feats) {
  check_input(feats, 2);   // the unbiased variance over time needs two frames
  Tensor x = bn1->relu_forward(conv1->forward(feats));
  Tensor x1 = layer1->forward(x);
  Tensor x2 = layer2->forward(x + x1);
  Tensor x3 = layer3->forward(x + x1 + x2);
  x = relu(layer4->forward(concat({x1, x2, x3}, 1)));     // (B, 1536, T)
  const Shape full = x.shape();
  const double inf = std::numeric_limits<double>::infinity();
  Tensor mu_t = expand(mean(x, {2}, true), full);
  Tensor sg_t = expand(sqrt(clamp(var(x, {2}, /*unbiased=*/true, true), 1e-4, inf)), full);
  Tensor g = concat({x, mu_t, sg_t}, 1);                   // (B, 4608, T)
  Tensor logits = att_conv4->forward(tanh(att_bn2->relu_forward(att_conv0->forward(g))));   // softmax over T: fused
  return bn6->forward(fc6->forward(bn5->forward(attentive_stats_pool(logits, x, true, 1e-4))));
}

}  // namespace spk
