// Shared blocks and pooling of the nets (see blocks.h).
#include "nets/blocks.h"

#include <limits>

#include "engine/init.h"
#include "engine/rng.h"

namespace spk {

SELayer::SELayer(int64_t channels, int64_t reduction, Rng& rng) {
  auto fc = register_module("fc", std::make_shared<Slots>());
  fc0 = fc->add("0", std::make_shared<Linear>(channels, channels / reduction, rng));
  fc2 = fc->add("2", std::make_shared<Linear>(channels / reduction, channels, rng));
}

// One fused op each way (kernels/se): the composition mean -> linear -> relu -> linear -> sigmoid -> mul cost nine
// ops and their (N, C) tensors per block; the parameters stay the Linear layers' (fc.0.*, fc.2.*), as checkpoints
// name them.
Tensor SELayer::forward(const Tensor& x) const {
  return squeeze_excite(x, fc0->weight, fc0->bias, fc2->weight, fc2->bias);
}

namespace {
std::shared_ptr<Slots> conv_bn_1x1(int64_t in, int64_t out, std::pair<int64_t, int64_t> stride, Rng& rng) {
  auto s = std::make_shared<Slots>();
  Conv2dOptions o;
  o.stride = stride;
  o.bias = false;
  s->add("0", std::make_shared<Conv2d>(in, out, std::pair<int64_t, int64_t>{1, 1}, rng, o));
  s->add("1", std::make_shared<BatchNorm2d>(out));
  return s;
}

Tensor run_conv_bn(Slots& s, const Tensor& x) {
  auto* conv = dynamic_cast<Conv2d*>(s.children()[0].second.get());
  auto* bn = dynamic_cast<BatchNorm2d*>(s.children()[1].second.get());
  return bn->forward(conv->forward(x));
}

Conv2dOptions conv3x3(std::pair<int64_t, int64_t> stride) {
  Conv2dOptions o;
  o.stride = stride;
  o.padding = {1, 1};
  o.bias = false;
  return o;
}
}  // namespace

SEBasicBlock::SEBasicBlock(int64_t in, int64_t out, std::pair<int64_t, int64_t> stride, Rng& rng,
                           int64_t reduction) {
  conv1 = register_module("conv1", std::make_shared<Conv2d>(in, out, std::pair<int64_t, int64_t>{3, 3}, rng,
                                                            conv3x3(stride)));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(out));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(out, out, std::pair<int64_t, int64_t>{3, 3}, rng,
                                                            conv3x3({1, 1})));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(out));
  se = register_module("se", std::make_shared<SELayer>(out, reduction, rng));
  if (stride != std::pair<int64_t, int64_t>{1, 1} || in != out)
    downsample = register_module("downsample", conv_bn_1x1(in, out, stride, rng));
}

Tensor SEBasicBlock::forward(const Tensor& x) {
  Tensor out = bn1->relu_forward(conv1->forward(x));   // bn1(relu(conv1(x))), fused
  out = se->forward(bn2->forward(conv2->forward(out)));
  Tensor residual = downsample ? run_conv_bn(*downsample, x) : x;
  return add_relu(out, residual);   // relu(out + residual) bit for bit, one pass each way, no sum kept
}

BasicBlock::BasicBlock(int64_t in, int64_t out, int64_t stride, Rng& rng) {
  conv1 = register_module("conv1", std::make_shared<Conv2d>(in, out, std::pair<int64_t, int64_t>{3, 3}, rng,
                                                            conv3x3({stride, stride})));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(out));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(out, out, std::pair<int64_t, int64_t>{3, 3}, rng,
                                                            conv3x3({1, 1})));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(out));
  if (stride != 1 || in != out) shortcut = register_module("shortcut", conv_bn_1x1(in, out, {stride, stride}, rng));
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = bn1->forward_relu(conv1->forward(x));
  out = bn2->forward(conv2->forward(out));
  Tensor residual = shortcut ? run_conv_bn(*shortcut, x) : x;
  return add_relu(out, residual);
}

void init_conv2d_kaiming(Module& m, Rng& rng) {
  for (auto& [name, mod] : m.named_modules())
    if (auto* conv = dynamic_cast<Conv2d*>(mod)) kaiming_normal_(conv->weight, rng, FanMode::fan_out);
}

Tensor self_attentive_pool(const Tensor& x, const Linear& sap_linear, const Tensor& attention, bool with_std) {
  // The GEMM stays a linear; the tanh, the dot with attention, the softmax and the statistics are one op.
  return sap_pool(sap_linear.forward(x), attention, x, with_std);
}

Tensor temporal_stats(const Tensor& x) {
  SPK_CHECK(x.dim() == 3 && x.size(2) >= 2, "temporal_stats: input ", x.str(),
            " must be (B, C, T) with T >= 2 frames");
  return concat({mean(x, {2}), sqrt(var(x, {2}, /*unbiased=*/true) + 1e-7)}, 1);
}

}  // namespace spk
