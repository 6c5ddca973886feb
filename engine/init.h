// Parameter initialisers with torch.nn.init's formulas, filling a tensor in place from a spk::Rng.
//
// Fans follow torch.nn.init._calculate_fan_in_and_fan_out: for a weight of shape (out, in, *k),
// fan_in = in·prod(k) and fan_out = out·prod(k); tensors need at least 2 dims. Values are drawn on the
// host in double (Tensor::uniform / normal), so a seed gives the same weights on every device and dtype.
// None of these record autograd history: they write the data of a leaf, as torch's no_grad initialisers.
// t is a handle: the caller's tensor is filled, and the same handle is returned.
#pragma once
#include <utility>

#include "engine/tensor.h"

namespace spk {

class Rng;

enum class FanMode { fan_in, fan_out };

// (fan_in, fan_out) of a weight; throws for tensors with fewer than 2 dims.
std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& t);

// gain for kaiming: sqrt(2 / (1 + a²)) (leaky_relu with slope a; a = 0 is relu's sqrt(2)).
double leaky_relu_gain(double a);

Tensor uniform_(Tensor t, Rng& rng, double lo, double hi);
Tensor normal_(Tensor t, Rng& rng, double mean, double std);
Tensor constant_(Tensor t, double value);
// std = gain / sqrt(fan), gain = leaky_relu_gain(a). Defaults as torchvision ResNets use it:
// kaiming_normal_(w, mode='fan_out', nonlinearity='relu').
Tensor kaiming_normal_(Tensor t, Rng& rng, FanMode mode = FanMode::fan_out, double a = 0);
// bound = gain · sqrt(3 / fan); with a = sqrt(5), fan_in this is nn.Linear/Conv's default, bound 1/sqrt(fan_in).
Tensor kaiming_uniform_(Tensor t, Rng& rng, double a = 0, FanMode mode = FanMode::fan_in);
// std = gain · sqrt(2 / (fan_in + fan_out))
Tensor xavier_normal_(Tensor t, Rng& rng, double gain = 1);
// bound = gain · sqrt(6 / (fan_in + fan_out))
Tensor xavier_uniform_(Tensor t, Rng& rng, double gain = 1);

}  // namespace spk
