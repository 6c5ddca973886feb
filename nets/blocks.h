// Building blocks shared by the nets: a container with PyTorch nn.Sequential-style numeric child names
// (which may skip indices, as Sequential does for parameter-free ReLU/pool entries), the SE layer and
// the residual blocks of voxceleb_trainer (SEBasicBlock) and wespeaker (BasicBlock), and the pooling
// functions (self-attentive, attentive statistics, temporal statistics).
#pragma once
#include <memory>
#include <string>

#include "engine/layers.h"

namespace spk {

// torch.nn.Sequential's naming: children registered under the given names ("0", "1", "4", ...).
class Slots : public Module {
 public:
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
};

// voxceleb_trainer SELayer(c, r): mean over (H, W) -> fc.0 Linear(c, c/r) -> ReLU -> fc.2 Linear(c/r, c)
// -> sigmoid -> scale each channel. x (N, C, H, W).
class SELayer : public Module {
 public:
  SELayer(int64_t channels, int64_t reduction, Rng& rng);
  Tensor forward(const Tensor& x) const;
  std::shared_ptr<Linear> fc0, fc2;
};

// voxceleb_trainer SEBasicBlock: conv1 3x3 (stride) -> ReLU -> bn1 (ReLU BEFORE BN, as
// voxceleb_trainer models/ResNetBlocks.py; needed to load its pretrained weights) -> conv2 3x3 -> bn2 -> se -> + residual (downsample.0 1x1 conv + downsample.1 BN when
// stride != 1 or in != out) -> ReLU. No conv biases.
class SEBasicBlock : public Module {
 public:
  SEBasicBlock(int64_t in, int64_t out, std::pair<int64_t, int64_t> stride, Rng& rng, int64_t reduction = 8);
  Tensor forward(const Tensor& x);
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<SELayer> se;
  std::shared_ptr<Slots> downsample;   // null when the identity is the residual
};

// wespeaker BasicBlock: conv1 3x3 (stride) -> bn1 -> ReLU -> conv2 -> bn2 -> + shortcut (shortcut.0 1x1
// conv + shortcut.1 BN when stride != 1 or in != out) -> ReLU. No SE, no conv biases.
class BasicBlock : public Module {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride, Rng& rng);
  Tensor forward(const Tensor& x);
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Slots> shortcut;
};

// A stage of residual blocks named "0", "1", ... (layer1.0.conv1 ...); forward runs them in order.
template <class Block>
class Stage : public ModuleList {
 public:
  Tensor forward(Tensor x) const {
    for (size_t i = 0; i < size(); ++i) x = at<Block>(i).forward(x);
    return x;
  }
};

// Kaiming-normal (fan_out, relu) for every Conv2d weight under m, as the voxceleb_trainer and torchvision
// ResNets re-initialise; BatchNorm's defaults (1, 0) already match their constant_ init.
void init_conv2d_kaiming(Module& m, Rng& rng);

// Self-attentive pooling of voxceleb_trainer ResNetSE34L/VGGVox: x (B, T, D), h = tanh(sap_linear(x)),
// w = softmax_t(h @ attention) with attention (D, 1). SAP returns sum_t w x (B, D); ASP (with_std)
// appends sqrt(clamp(sum_t w x^2 - mu^2, 1e-5)) -> (B, 2D). sap_linear is a GEMM, the rest the fused op sap_pool.
Tensor self_attentive_pool(const Tensor& x, const Linear& sap_linear, const Tensor& attention, bool with_std);

// Attentive statistics (ECAPA-TDNN, ResNetSE34V2, RawNet3, wespeaker ASTP/MHASTP) are the engine op
// attentive_stats_pool(logits, x, with_std, clamp_min, clamp_max) (engine/ops.h): it takes the attention logits
// before their softmax over T, which it fuses with the weighted mean and standard deviation.

// wespeaker TSTP / x-vector statistics: x (B, C, T) -> [mean_t; sqrt(var_t(unbiased) + 1e-7)] (B, 2C).
// T must be >= 2 (the unbiased variance of one frame is undefined).
Tensor temporal_stats(const Tensor& x);

}  // namespace spk
