// Layer constructors (PyTorch default initialisation) and the Linear forward; see layers.h.
#include "engine/layers.h"

#include <cmath>
#include <vector>

#include "engine/cuda.h"
#include "engine/dispatch.h"
#include "engine/init.h"
#include "engine/rng.h"
#include "kernels/norm/norm.h"

namespace spk {

// nn.Linear / nn.ConvNd reset_parameters(): kaiming_uniform_(weight, a=sqrt(5)), then bias
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
static void default_init(Tensor& weight, Tensor& bias, Rng& rng) {
  kaiming_uniform_(weight, rng, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(double(fan_in_and_fan_out(weight).first));
    uniform_(bias, rng, -bound, bound);
  }
}

static void check_float(DType t, const char* layer) {
  SPK_CHECK(t == DType::f32 || t == DType::f64, layer, ": dtype ", dtype_name(t), " (f32 or f64 expected)");
}

Linear::Linear(int64_t in, int64_t out, Rng& rng, bool with_bias, DType dtype) {
  SPK_CHECK(in > 0 && out > 0, "Linear(", in, ", ", out, "): sizes must be positive");
  check_float(dtype, "Linear");
  weight = register_parameter("weight", Tensor::empty({out, in}, dtype));
  if (with_bias) bias = register_parameter("bias", Tensor::empty({out}, dtype));
  default_init(weight, bias, rng);
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

static void check_conv(const char* layer, int64_t in, int64_t out, int64_t groups) {
  SPK_CHECK(in > 0 && out > 0 && groups > 0, layer, "(", in, ", ", out, ", groups ", groups, "): sizes must be positive");
  SPK_CHECK(in % groups == 0 && out % groups == 0, layer, ": in_channels ", in, " and out_channels ", out,
            " must be divisible by groups ", groups);
}

Conv1d::Conv1d(int64_t in, int64_t out, int64_t kernel, Rng& rng, Conv1dOptions o) : opt(o) {
  check_conv("Conv1d", in, out, o.groups);
  SPK_CHECK(kernel > 0, "Conv1d: kernel ", kernel, " must be positive");
  check_float(o.dtype, "Conv1d");
  weight = register_parameter("weight", Tensor::empty({out, in / o.groups, kernel}, o.dtype));
  if (o.bias) bias = register_parameter("bias", Tensor::empty({out}, o.dtype));
  default_init(weight, bias, rng);
}

Conv2d::Conv2d(int64_t in, int64_t out, std::pair<int64_t, int64_t> k, Rng& rng, Conv2dOptions o) : opt(o) {
  check_conv("Conv2d", in, out, o.groups);
  SPK_CHECK(k.first > 0 && k.second > 0, "Conv2d: kernel (", k.first, ", ", k.second, ") must be positive");
  check_float(o.dtype, "Conv2d");
  weight = register_parameter("weight", Tensor::empty({out, in / o.groups, k.first, k.second}, o.dtype));
  if (o.bias) bias = register_parameter("bias", Tensor::empty({out}, o.dtype));
  default_init(weight, bias, rng);
}

BatchNorm::BatchNorm(int64_t c, BatchNormOptions o) : opt(o) {
  SPK_CHECK(c > 0, "BatchNorm: num_features ", c, " must be positive");
  check_float(o.dtype, "BatchNorm");
  if (o.affine) {
    weight = register_parameter("weight", Tensor::ones({c}, o.dtype));
    bias = register_parameter("bias", Tensor::zeros({c}, o.dtype));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", Tensor::zeros({c}, o.dtype));
    running_var = register_buffer("running_var", Tensor::ones({c}, o.dtype));
    num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64));
  }
}

void BatchNorm::check_rank(const Tensor& x, const char* layer, int64_t lo, int64_t hi) const {
  SPK_CHECK(x.dim() >= lo && x.dim() <= hi, layer, ": expected a ", lo == hi ? std::to_string(lo) : std::to_string(lo) + "-d or " + std::to_string(hi),
            "-d input, got ", x.str());
  int64_t c = running_mean.defined() ? running_mean.numel() : weight.defined() ? weight.numel() : x.size(1);
  SPK_CHECK(x.size(1) == c, layer, ": input ", x.str(), " has ", x.size(1), " channels but the layer has ", c);
}

// The counter only matters to PyTorch when momentum is None (cumulative average), which we do not offer;
// it is kept so state() matches PyTorch's state_dict. Incremented where it lives: reading it back to the host
// (item()) would cost a device-to-host round trip per layer per step on a GPU.
void BatchNorm::count_batch() {
  Tensor& t = num_batches_tracked;
  SPK_CHECK(t.dtype() == DType::i64 && t.numel() == 1, "BatchNorm: num_batches_tracked is ", t.str(),
            ", not one i64");
  if (t.device().is_cpu()) {
    ++t.data<int64_t>()[0];
    return;
  }
  SPK_CUDA_ONLY(batch_norm_count_cuda(t.data<int64_t>(), cuda::current_stream()));
}

InstanceNorm1d::InstanceNorm1d(int64_t c, InstanceNormOptions o) : opt(o), num_features(c) {
  SPK_CHECK(c > 0, "InstanceNorm1d: num_features ", c, " must be positive");
  check_float(o.dtype, "InstanceNorm1d");
  SPK_CHECK(o.eps > 0, "InstanceNorm1d: eps ", o.eps, " must be positive");
  if (o.affine) {
    weight = register_parameter("weight", Tensor::ones({c}, o.dtype));
    bias = register_parameter("bias", Tensor::zeros({c}, o.dtype));
  }
}

Tensor InstanceNorm1d::forward(const Tensor& x) const {
  SPK_CHECK(x.dim() == 3 && x.size(1) == num_features, "InstanceNorm1d(", num_features, "): expected (N, ",
            num_features, ", T) input, got ", x.str());
  return instance_norm1d(x, weight, bias, opt.eps);
}

// pyannote-audio SincConv1d(1, out_channels, ...) has out_channels cut-off rows; asteroid ParamSincFB(n_filters)
// has n_filters // 2 (cosine and sine filter per row). Both round an even kernel size up.
SincConv1d::SincConv1d(int64_t out_channels, SincOptions o, DType dtype) : opt(o) {
  const bool asteroid = o.convention == SincConvention::asteroid;
  SPK_CHECK(out_channels >= 1, "SincConv1d: out_channels ", out_channels, " must be positive");
  SPK_CHECK(!asteroid || out_channels % 2 == 0, "SincConv1d: out_channels ", out_channels,
            " must be even with the asteroid convention (a cosine and a sine filter per cut-off pair)");
  SPK_CHECK(o.kernel_size >= 2, "SincConv1d: kernel_size ", o.kernel_size, " must be >= 2");
  check_float(dtype, "SincConv1d");
  if (opt.kernel_size % 2 == 0) ++opt.kernel_size;
  auto [low, band] = sinc_init_cutoffs(asteroid ? out_channels / 2 : out_channels, opt, dtype);
  low_hz_ = register_parameter("low_hz_", low);
  band_hz_ = register_parameter("band_hz_", band);
  if (asteroid) {   // np.hamming(K)[:K//2] and 2π·arange(-K//2, 0)/fs, float32 as ParamSincFB registers them
    const int64_t half = opt.kernel_size / 2;
    std::vector<double> w(static_cast<size_t>(half)), n(static_cast<size_t>(half));
    for (int64_t j = 0; j < half; ++j) {
      w[size_t(j)] = 0.54 - 0.46 * std::cos(2 * M_PI * double(j) / double(opt.kernel_size - 1));
      n[size_t(j)] = 2 * M_PI * (double(j - half) / opt.sample_rate);
    }
    window_ = register_buffer("window_", Tensor::from_vector(w, {half}, DType::f32));
    n_ = register_buffer("n_", Tensor::from_vector(n, {1, half}, DType::f32));
  }
}

int64_t SincConv1d::out_channels() const {
  return opt.convention == SincConvention::asteroid ? 2 * low_hz_.size(0) : low_hz_.size(0);
}

LayerNorm::LayerNorm(int64_t d, double e, bool affine, DType dtype) : eps(e) {
  SPK_CHECK(d > 0, "LayerNorm: normalized_shape ", d, " must be positive");
  check_float(dtype, "LayerNorm");
  if (affine) {
    weight = register_parameter("weight", Tensor::ones({d}, dtype));
    bias = register_parameter("bias", Tensor::zeros({d}, dtype));
  }
}

// nn.MultiheadAttention.__init__ then _reset_parameters(): out_proj is built (and drawn) first.
MultiheadAttention::MultiheadAttention(int64_t e, int64_t h, Rng& rng, DType dtype) : embed_dim(e), num_heads(h) {
  SPK_CHECK(e > 0 && h > 0, "MultiheadAttention(", e, ", ", h, "): sizes must be positive");
  SPK_CHECK(e % h == 0, "MultiheadAttention: embed_dim ", e, " must be divisible by num_heads ", h);
  check_float(dtype, "MultiheadAttention");
  in_proj_weight = register_parameter("in_proj_weight", Tensor::empty({3 * e, e}, dtype));
  in_proj_bias = register_parameter("in_proj_bias", Tensor::zeros({3 * e}, dtype));
  out_proj = register_module("out_proj", std::make_shared<Linear>(e, e, rng, true, dtype));
  xavier_uniform_(in_proj_weight, rng);
  constant_(out_proj->bias, 0.0);
}

GRU::GRU(int64_t in, int64_t h, Rng& rng, bool with_bias, DType dtype) : hidden_size(h) {
  SPK_CHECK(in > 0 && h > 0, "GRU(", in, ", ", h, "): sizes must be positive");
  check_float(dtype, "GRU");
  weight_ih = register_parameter("weight_ih_l0", Tensor::empty({3 * h, in}, dtype));
  weight_hh = register_parameter("weight_hh_l0", Tensor::empty({3 * h, h}, dtype));
  if (with_bias) {
    bias_ih = register_parameter("bias_ih_l0", Tensor::empty({3 * h}, dtype));
    bias_hh = register_parameter("bias_hh_l0", Tensor::empty({3 * h}, dtype));
  }
  const double bound = 1.0 / std::sqrt(double(h));
  for (Tensor* t : {&weight_ih, &weight_hh, &bias_ih, &bias_hh})
    if (t->defined()) uniform_(*t, rng, -bound, bound);
}

}  // namespace spk
