// wespeaker ResNet family (see wespeaker_resnet.h).
#include "nets/wespeaker_resnet.h"

#include "engine/rng.h"

namespace spk {

namespace {
Conv2dOptions no_bias(int64_t stride, int64_t padding) {
  Conv2dOptions o;
  o.stride = {stride, stride};
  o.padding = {padding, padding};
  o.bias = false;
  return o;
}
std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride, Rng& rng) {
  return std::make_shared<Conv2d>(in, out, std::pair<int64_t, int64_t>{k, k}, rng, no_bias(stride, k / 2));
}
}  // namespace

Bottleneck::Bottleneck(int64_t in, int64_t planes, int64_t stride, Rng& rng) {
  conv1 = register_module("conv1", conv(in, planes, 1, 1, rng));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride, rng));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  conv3 = register_module("conv3", conv(planes, 4 * planes, 1, 1, rng));
  bn3 = register_module("bn3", std::make_shared<BatchNorm2d>(4 * planes));
  if (stride != 1 || in != 4 * planes) {
    shortcut = register_module("shortcut", std::make_shared<Slots>());
    shortcut->add("0", conv(in, 4 * planes, 1, stride, rng));
    shortcut->add("1", std::make_shared<BatchNorm2d>(4 * planes));
  }
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = bn1->forward_relu(conv1->forward(x));
  out = bn2->forward_relu(conv2->forward(out));
  out = bn3->forward(conv3->forward(out));
  Tensor residual = x;
  if (shortcut) {
    auto& c = dynamic_cast<Conv2d&>(*shortcut->children()[0].second);
    auto& b = dynamic_cast<BatchNorm2d&>(*shortcut->children()[1].second);
    residual = b.forward(c.forward(x));
  }
  return add_relu(out, residual);   // relu(out + residual) bit for bit, one pass each way
}

const std::vector<WespeakerResNetDepth>& wespeaker_resnet_depths() {
  static const std::vector<WespeakerResNetDepth> depths = {
      {"ResNet18", false, {2, 2, 2, 2}},     {"ResNet34", false, {3, 4, 6, 3}},
      {"ResNet50", true, {3, 4, 6, 3}},      {"ResNet101", true, {3, 4, 23, 3}},
      {"ResNet152", true, {3, 8, 36, 3}},    {"ResNet221", true, {6, 16, 48, 3}},
      {"ResNet293", true, {10, 20, 64, 3}},
  };
  return depths;
}

WespeakerResNet::WespeakerResNet(const std::string& name, const ModelConfig& config, Rng& rng)
    : SpeakerNet(config.n_mels, config.nOut), name_(name) {
  const std::string suffix = "_HardNeg";
  const bool hardneg = name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(),
                                                                   suffix) == 0;
  const std::string base = hardneg ? name.substr(0, name.size() - suffix.size()) : name;
  const WespeakerResNetDepth* depth = nullptr;
  for (const auto& d : wespeaker_resnet_depths())
    if (base == d.name) depth = &d;
  SPK_CHECK(depth != nullptr && (!hardneg || !depth->bottleneck), "WespeakerResNet: unknown --model '", name, "'");
  const std::string& enc = config.encoder_type;
  if (hardneg)
    SPK_CHECK(enc.empty() || enc == "MHASTP", name, ": unknown --encoder_type '", enc, "' (", name,
              " supports MHASTP)");
  else
    SPK_CHECK(enc.empty() || enc == "TSTP" || enc == "ASTP" || enc == "MQMHASTP", name, ": unknown --encoder_type '",
              enc, "' (", name, " supports TSTP, ASTP, MQMHASTP)");
  bottleneck_ = depth->bottleneck;
  const int64_t expansion = bottleneck_ ? 4 : 1, m = 32;
  conv1 = register_module("conv1", conv(1, m, 3, 1, rng));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(m));
  int64_t in = m;
  for (size_t s = 0; s < 4; ++s) {
    const int64_t planes = m << s, stride = s == 0 ? 1 : 2;
    auto stage = std::make_shared<ModuleList>();
    for (int64_t i = 0; i < depth->blocks[s]; ++i) {
      if (bottleneck_)
        stage->push_back(std::make_shared<Bottleneck>(in, planes, i == 0 ? stride : 1, rng));
      else
        stage->push_back(std::make_shared<BasicBlock>(in, planes, i == 0 ? stride : 1, rng));
      in = planes * expansion;
    }
    layers[s] = register_module("layer" + std::to_string(s + 1), stage);
  }
  // Frequency after three stride-2 3x3 convs with padding 1: n -> ceil(n/2), three times.
  int64_t f = config.n_mels;
  for (int i = 0; i < 3; ++i) f = (f + 1) / 2;
  const int64_t stats_dim = in * f;   // 8 m expansion F''
  int64_t pool_out = 2 * stats_dim;
  if (enc == "MQMHASTP") {
    pool = register_module("pool", std::make_shared<MQMHASTP>(stats_dim, 2, MhastpOptions{}, rng));
    pool_out = pool->out_dim();
  }
  if (enc == "ASTP") astp_pool = register_module("pool", std::make_shared<ASTP>(stats_dim, 128, rng));
  if (hardneg) {
    MhastpOptions o;
    o.d_s = 1;
    hardneg_pool = register_module("pool", std::make_shared<MHASTP>(stats_dim, o, rng));
  }
  seg_1 = register_module("seg_1", std::make_shared<Linear>(pool_out, config.nOut, rng));
  if (hardneg) {
    BatchNormOptions no_affine;
    no_affine.affine = false;
    seg_bn_1 = register_module("seg_bn_1", std::make_shared<BatchNorm1d>(config.nOut, no_affine));
    seg_2 = register_module("seg_2", std::make_shared<Linear>(config.nOut, config.nOut, rng));
  }
}

Tensor WespeakerResNet::forward(const Tensor& feats) {
  // TSTP: T'' = ceil(ceil(ceil(T/2)/2)/2) >= 2 for the unbiased variance; the attentive poolings need one frame.
  check_input(feats, pool || astp_pool || hardneg_pool ? 1 : 9);
  Tensor x = bn1->forward_relu(conv1->forward(unsqueeze(feats, 1)));
  for (const auto& stage : layers)
    for (size_t i = 0; i < stage->size(); ++i)
      x = bottleneck_ ? stage->at<Bottleneck>(i).forward(x) : stage->at<BasicBlock>(i).forward(x);
  x = reshape(contiguous(x), {x.size(0), x.size(1) * x.size(2), x.size(3)});
  if (hardneg_pool) return seg_2->forward(seg_bn_1->forward(relu(seg_1->forward(hardneg_pool->forward(x)))));
  if (astp_pool) return seg_1->forward(astp_pool->forward(x));
  return seg_1->forward(pool ? pool->forward(x) : temporal_stats(x));
}

}  // namespace spk
