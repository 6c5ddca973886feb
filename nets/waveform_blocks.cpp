// Layers of the raw-waveform nets (see waveform_blocks.h).
#include "nets/waveform_blocks.h"

#include <limits>

namespace spk {

std::shared_ptr<InstanceNorm1d> affine_instance_norm(int64_t channels, double eps) {
  InstanceNormOptions o;
  o.eps = eps;
  o.affine = true;
  return std::make_shared<InstanceNorm1d>(channels, o);
}

WeightNormConv1d::WeightNormConv1d(int64_t in, int64_t out, int64_t kernel, int64_t dilation_, Rng& rng)
    : dilation(dilation_) {
  Conv1dOptions o;
  o.dilation = dilation;
  Conv1d conv(in, out, kernel, rng, o);   // PyTorch's default init, then weight_norm's split
  // weight_norm registers its two parameters after the conv's bias: bias, weight_g, weight_v (state_dict order).
  bias = register_parameter("bias", conv.bias.detach().clone());
  const Tensor v = conv.weight.detach();
  weight_g = register_parameter("weight_g", sqrt(sum(v * v, {1, 2}, /*keepdim=*/true)).detach().clone());
  weight_v = register_parameter("weight_v", v.clone());
}

Tensor WeightNormConv1d::weight() const {
  return weight_v * (weight_g / sqrt(sum(weight_v * weight_v, {1, 2}, /*keepdim=*/true)));
}

Tensor mean_std_pool(const Tensor& x) {
  SPK_CHECK(x.dim() == 3 && x.size(2) >= 2, "mean_std_pool: x ", x.str(),
            " must be (B, C, T) with T >= 2 (the unbiased standard deviation of one frame is undefined)");
  // torch.std's gradient is 0 where the std is 0 (a channel constant over time, e.g. dead after a ReLU), where
  // sqrt's would be inf * 0 = NaN: the clamp gives that 0 (no gradient below its floor) and moves the value from
  // 0 to 1e-15 only.
  const double inf = std::numeric_limits<double>::infinity();
  return concat({mean(x, {2}), sqrt(clamp(var(x, {2}, /*unbiased=*/true), 1e-30, inf))}, 1);
}

}  // namespace spk
