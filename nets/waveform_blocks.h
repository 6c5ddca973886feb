// Layers of the raw-waveform nets that the other nets do not need: torch.nn.utils.weight_norm on a Conv1d
// (pyannote's TDNN layers), the x-vector statistics pooling of pyannote-audio 1.x (mean and unbiased standard
// deviation, no epsilon), and an InstanceNorm1d factory with an affine transform.
#pragma once
#include <memory>

#include "engine/layers.h"

namespace spk {

// torch.nn.utils.weight_norm(nn.Conv1d(in, out, k, dilation), dim=0): the weight is re-parametrised as
// weight = weight_g · weight_v / ||weight_v|| (the norm over (in, k) per output channel, no epsilon).
// State names as PyTorch's: bias (out), weight_g (out, 1, 1), weight_v (out, in, k). Initialisation as
// PyTorch's: the Conv1d's default weight and bias, then weight_v = weight, weight_g = ||weight||.
class WeightNormConv1d : public Module {
 public:
  WeightNormConv1d(int64_t in, int64_t out, int64_t kernel, int64_t dilation, Rng& rng);
  Tensor weight() const;   // weight_g · weight_v / ||weight_v||, differentiable in both
  Tensor forward(const Tensor& x) const { return conv1d(x, weight(), bias, 1, 0, dilation); }
  Tensor bias, weight_g, weight_v;
  int64_t dilation;
};

// torch.nn.InstanceNorm1d(channels, eps, affine=True) (engine/layers.h InstanceNorm1d).
std::shared_ptr<InstanceNorm1d> affine_instance_norm(int64_t channels, double eps = 1e-5);

// pyannote-audio StatsPool (pyannote/audio/models/pooling.py): x (B, C, T) -> [mean_t; std_t] (B, 2C) with the
// unbiased standard deviation (torch.std) and no epsilon; as torch.std, the gradient is 0 where the std is 0.
// T must be >= 2.
Tensor mean_std_pool(const Tensor& x);

}  // namespace spk
