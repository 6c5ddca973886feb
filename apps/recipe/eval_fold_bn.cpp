// BatchNorm folding for inference (see eval_fold_bn.h).
#include "apps/recipe/eval_fold_bn.h"

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/check.h"
#include "engine/layers.h"
#include "nets/blocks.h"
#include "nets/resnet_se34l.h"
#include "nets/wespeaker_resnet.h"

namespace spk::recipe {

namespace {

// W[o] *= s[o], b[o] = (b[o] - mean[o])·s[o] + β[o], s = γ/√(var + ε); the BN then passes through. In double,
// rounded once; the conv gets a bias if it had none (a member, not registered: state() is unchanged).
template <class Conv>
void fold(Conv& conv, BatchNorm& bn) {
  SPK_CHECK(!bn.folded, "fold_batch_norms: a BatchNorm is folded twice");
  SPK_CHECK(bn.running_mean.defined(), "fold_batch_norms: BatchNorm without running statistics");
  const int64_t C = conv.weight.size(0), per = conv.weight.numel() / C;
  const std::vector<double> mean = bn.running_mean.to_double(), var = bn.running_var.to_double();
  const std::vector<double> gamma = bn.weight.defined() ? bn.weight.to_double() : std::vector<double>(size_t(C), 1.0);
  const std::vector<double> beta = bn.bias.defined() ? bn.bias.to_double() : std::vector<double>(size_t(C), 0.0);
  const std::vector<double> b0 = conv.bias.defined() ? conv.bias.to_double() : std::vector<double>(size_t(C), 0.0);
  std::vector<double> w = conv.weight.to_double();
  std::vector<double> b(static_cast<size_t>(C));
  for (int64_t o = 0; o < C; ++o) {
    const double s = gamma[size_t(o)] / std::sqrt(var[size_t(o)] + bn.opt.eps);
    for (int64_t i = 0; i < per; ++i) w[size_t(o * per + i)] *= s;
    b[size_t(o)] = (b0[size_t(o)] - mean[size_t(o)]) * s + beta[size_t(o)];
  }
  NoGradGuard no_grad;
  const Device dev = conv.weight.device();
  conv.weight.copy_(Tensor::from_vector(w, conv.weight.shape(), conv.weight.dtype()).to(dev));
  Tensor bias = Tensor::from_vector(b, {C}, conv.weight.dtype()).to(dev);
  if (conv.bias.defined())
    conv.bias.copy_(bias);
  else
    conv.bias = bias;
  bn.folded = true;
}

void fold_slots(Module& slots, int& n) {   // a (conv, BN) Slots pair: downsample / shortcut
  auto& kids = slots.children();
  auto* conv = dynamic_cast<Conv2d*>(kids.at(0).second.get());
  auto* bn = dynamic_cast<BatchNorm*>(kids.at(1).second.get());
  SPK_CHECK(conv && bn, "fold_batch_norms: a downsample/shortcut is not (conv, BatchNorm)");
  fold(*conv, *bn);
  ++n;
}

}  // namespace

int fold_batch_norms(SpeakerNet& model) {
  SPK_CHECK(!model.is_training(), "fold_batch_norms: the model must be in eval mode");
  int n = 0;
  if (auto* m = dynamic_cast<ResNetSE34L*>(&model)) fold(*m->conv1, *m->bn1), ++n;
  if (auto* m = dynamic_cast<WespeakerResNet*>(&model)) fold(*m->conv1, *m->bn1), ++n;
  for (auto& [name, mod] : model.named_modules()) {
    if (auto* b = dynamic_cast<SEBasicBlock*>(mod)) {
      fold(*b->conv2, *b->bn2), ++n;
      if (b->downsample) fold_slots(*b->downsample, n);
    } else if (auto* b = dynamic_cast<BasicBlock*>(mod)) {
      fold(*b->conv1, *b->bn1), fold(*b->conv2, *b->bn2), n += 2;
      if (b->shortcut) fold_slots(*b->shortcut, n);
    } else if (auto* b = dynamic_cast<Bottleneck*>(mod)) {
      fold(*b->conv1, *b->bn1), fold(*b->conv2, *b->bn2), fold(*b->conv3, *b->bn3), n += 3;
      if (b->shortcut) fold_slots(*b->shortcut, n);
    }
  }
  return n;
}

}  // namespace spk::recipe
