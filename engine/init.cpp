// torch.nn.init formulas (see init.h). Each draws host doubles and copy_()s them into t, which converts
// to t's dtype and device and writes through any strides t has.
#include "engine/init.h"

#include <cmath>

#include "engine/rng.h"

namespace spk {

std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& t) {
  SPK_CHECK(t.dim() >= 2, "init: fan in and fan out need a tensor with at least 2 dims, got ", t.str());
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

double leaky_relu_gain(double a) { return std::sqrt(2.0 / (1.0 + a * a)); }

static int64_t fan(const Tensor& t, FanMode mode) {
  auto [in, out] = fan_in_and_fan_out(t);
  int64_t f = mode == FanMode::fan_in ? in : out;
  SPK_CHECK(f > 0, "init: zero fan for ", t.str());
  return f;
}

Tensor uniform_(Tensor t, Rng& rng, double lo, double hi) {
  SPK_CHECK(is_floating(t.dtype()), "init uniform_: tensor ", t.str(), " is not floating");
  t.copy_(Tensor::uniform(t.shape(), rng, lo, hi, DType::f64));
  return t;
}

Tensor normal_(Tensor t, Rng& rng, double mean, double std) {
  SPK_CHECK(is_floating(t.dtype()), "init normal_: tensor ", t.str(), " is not floating");
  t.copy_(Tensor::normal(t.shape(), rng, mean, std, DType::f64));
  return t;
}

Tensor constant_(Tensor t, double value) {
  t.fill_(value);
  return t;
}

Tensor kaiming_normal_(Tensor t, Rng& rng, FanMode mode, double a) {
  return normal_(t, rng, 0.0, leaky_relu_gain(a) / std::sqrt(double(fan(t, mode))));
}

Tensor kaiming_uniform_(Tensor t, Rng& rng, double a, FanMode mode) {
  double bound = leaky_relu_gain(a) * std::sqrt(3.0 / double(fan(t, mode)));
  return uniform_(t, rng, -bound, bound);
}

Tensor xavier_normal_(Tensor t, Rng& rng, double gain) {
  auto [in, out] = fan_in_and_fan_out(t);
  return normal_(t, rng, 0.0, gain * std::sqrt(2.0 / double(in + out)));
}

Tensor xavier_uniform_(Tensor t, Rng& rng, double gain) {
  auto [in, out] = fan_in_and_fan_out(t);
  double bound = gain * std::sqrt(6.0 / double(in + out));
  return uniform_(t, rng, -bound, bound);
}

}  // namespace spk
