// RawNet3 (see rawnet3.h).
#include "nets/rawnet3.h"

#include "engine/rng.h"

namespace spk {

namespace {
constexpr int64_t kScale = 8, kSincTaps = 251;
constexpr double kStatMin = 1e-4, kStatMax = 1e4;   // the reference's clamp of the variances
}  // namespace

PreEmphasis::PreEmphasis(double coef) {
  flipped_filter = register_buffer("flipped_filter", Tensor::from_vector(std::vector<double>{-coef, 1.0}, {1, 1, 2}));
}

Tensor PreEmphasis::forward(const Tensor& x) const {
  // F.pad(x, (1, 0), "reflect") puts x[1] before x[0].
  return conv1d(concat({slice(x, 2, 1, 2), x}, 2), flipped_filter.to(x.dtype()));
}

AFMS::AFMS(int64_t channels, Rng& rng) {
  alpha = register_parameter("alpha", Tensor::ones({channels, 1}));
  fc = register_module("fc", std::make_shared<Linear>(channels, channels, rng));
}

Tensor AFMS::forward(const Tensor& x) const {
  Tensor y = sigmoid(fc->forward(mean(x, {2})));            // (B, C)
  return (x + alpha) * unsqueeze(y, 2);
}

RawBottle2neck::RawBottle2neck(int64_t inplanes, int64_t planes, int64_t kernel, int64_t dilation, int64_t scale,
                               int64_t pool_, Rng& rng)
    : width(planes / scale), nums(scale - 1), pool(pool_) {
  conv1 = register_module("conv1", std::make_shared<Conv1d>(inplanes, width * scale, 1, rng));
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
  conv3 = register_module("conv3", std::make_shared<Conv1d>(width * scale, planes, 1, rng));
  bn3 = register_module("bn3", std::make_shared<BatchNorm1d>(planes));
  afms = register_module("afms", std::make_shared<AFMS>(planes, rng));
  if (inplanes != planes) {
    Conv1dOptions nb;
    nb.bias = false;
    residual = register_module("residual", std::make_shared<Slots>())
                   ->add("0", std::make_shared<Conv1d>(inplanes, planes, 1, rng, nb));
  }
}

Tensor RawBottle2neck::forward(const Tensor& x) const {
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
  out = out + (residual ? residual->forward(x) : x);
  if (pool > 0) out = max_pool1d(out, pool);
  return afms->forward(out);
}

namespace {
SincOptions asteroid_sinc(int64_t stride) {
  SincOptions o;   // asteroid ParamSincFB defaults: 16 kHz, min_low_hz 50, min_band_hz 50
  o.convention = SincConvention::asteroid;
  o.kernel_size = kSincTaps;
  o.stride = stride;
  return o;
}
}  // namespace

ParamSincEncoder::ParamSincEncoder(int64_t n_filters, int64_t stride) {
  filterbank = register_module("filterbank", std::make_shared<SincConv1d>(n_filters, asteroid_sinc(stride)));
}

RawNet3::RawNet3(const ModelConfig& config, Rng& rng) : SpeakerNet(1, config.nOut) {
  const std::string enc = config.encoder_type.empty() ? "ECA" : config.encoder_type;
  SPK_CHECK(enc == "ECA" || enc == "ASP", "RawNet3: unknown --encoder_type '", config.encoder_type,
            "' (RawNet3 has ECA, channel-wise attentive statistics, or ASP, one attention weight per frame)");
  const int64_t c = config.C;
  SPK_CHECK(c >= 32 && c % 32 == 0, "RawNet3: --C ", c, " must be a positive multiple of 32 (C/4 sinc filters in ",
            "pairs, C/8 branch width)");
  SPK_CHECK(config.sinc_stride >= 0, "RawNet3: --sinc_stride ", config.sinc_stride,
            " must be at least 1 (0 = the model's, 10)");
  sinc_stride = config.sinc_stride > 0 ? config.sinc_stride : 10;
  auto pre = register_module("preprocess", std::make_shared<Slots>());
  pre_emphasis = pre->add("0", std::make_shared<PreEmphasis>());
  wave_norm = pre->add("1", affine_instance_norm(1, 1e-4));
  conv1 = register_module("conv1", std::make_shared<ParamSincEncoder>(c / 4, sinc_stride));
  bn1 = register_module("bn1", std::make_shared<BatchNorm1d>(c / 4));
  layer1 = register_module("layer1", std::make_shared<RawBottle2neck>(c / 4, c, 3, 2, kScale, 5, rng));
  layer2 = register_module("layer2", std::make_shared<RawBottle2neck>(c, c, 3, 3, kScale, 3, rng));
  layer3 = register_module("layer3", std::make_shared<RawBottle2neck>(c, c, 3, 4, kScale, 0, rng));
  layer4 = register_module("layer4", std::make_shared<Conv1d>(3 * c, 1536, 1, rng));
  auto att = register_module("attention", std::make_shared<Slots>());
  att_conv0 = att->add("0", std::make_shared<Conv1d>(1536 * 3, 128, 1, rng));
  att_bn2 = att->add("2", std::make_shared<BatchNorm1d>(128));
  att_conv3 = att->add("3", std::make_shared<Conv1d>(128, enc == "ECA" ? 1536 : 1, 1, rng));
  bn5 = register_module("bn5", std::make_shared<BatchNorm1d>(3072));
  fc6 = register_module("fc6", std::make_shared<Linear>(3072, config.nOut, rng));
  bn6 = register_module("bn6", std::make_shared<BatchNorm1d>(config.nOut));
}

int64_t RawNet3::min_samples() const {
  // Frames: sinc (L - 251)/s + 1, then /5 (layer1), /3 (layer2; mp3(x1) has as many): >= 2 for the variance.
  return kSincTaps + (2 * 3 * 5 - 1) * sinc_stride;
}

Tensor RawNet3::features(const Tensor& wav) const {
  Tensor x = wave_norm->forward(pre_emphasis->forward(wav));
  x = log(add_scalar(abs(conv1->forward(x)), 1e-6));
  return x - mean(x, {2}, /*keepdim=*/true);
}

Tensor RawNet3::forward(const Tensor& wav) {
  check_input(wav, min_samples());
  const Tensor x0 = features(wav);
  const Tensor x1 = layer1->forward(x0);
  const Tensor x2 = layer2->forward(x1);
  const Tensor p1 = max_pool1d(x1, 3);
  const Tensor x3 = layer3->forward(p1 + x2);
  Tensor x = relu(layer4->forward(concat({p1, x2, x3}, 1)));   // (B, 1536, T)
  const Shape full = x.shape();
  Tensor mu_t = expand(mean(x, {2}, true), full);
  Tensor sg_t = expand(sqrt(clamp(var(x, {2}, /*unbiased=*/true, true), kStatMin, kStatMax)), full);
  Tensor g = concat({x, mu_t, sg_t}, 1);                                 // (B, 4608, T)
  // (B, 1536 or 1, T): ECA one weight per channel, ASP one per frame; the softmax over T is fused with the stats
  Tensor logits = att_conv3->forward(att_bn2->relu_forward(att_conv0->forward(g)));
  return fc6->forward(bn5->forward(attentive_stats_pool(logits, x, true, kStatMin, kStatMax)));
}

}  // namespace spk
