// SincNet ops: sinc_filters (band-pass impulse responses from learnable cut-offs) and sinc_conv1d (those filters
// convolved with a mono waveform), formulas in kernels/sinc/sinc.h. On the CPU the conv is the filters followed
// by the im2col + GEMM conv kernel; on CUDA sinc_conv1d's forward is one fused kernel that builds the filters
// in shared memory. Backward, both devices: the conv backward kernel for dx and dfilters, then the filters'
// backward kernel for the cut-offs (the filters are rebuilt there, C·K values: cheaper than keeping them).
#include <cmath>

#include "engine/autograd.h"
#include "engine/conv_context.h"
#include "engine/dispatch.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "kernels/sinc/sinc.h"

namespace spk {

namespace {

const char* convention_name(SincConvention c) { return c == SincConvention::asteroid ? "asteroid" : "sincnet"; }

// Checks the options and the (C, 1) cut-off tensors; returns the kernel parameters.
SincParams sinc_params(const char* op, const Tensor& low, const Tensor& band, const SincOptions& o) {
  SPK_CHECK(low.defined() && band.defined(), op, ": undefined low_hz or band_hz");
  SPK_CHECK(low.dim() == 2 && low.size(1) == 1 && low.size(0) >= 1, op, ": low_hz ", low.str(), " must be (C, 1)");
  SPK_CHECK(band.shape() == low.shape(), op, ": band_hz ", band.str(), " must have low_hz's shape ", low.str());
  SPK_CHECK(band.device() == low.device() && band.dtype() == low.dtype(), op, ": band_hz ", band.str(),
            " differs from low_hz ", low.str(), " in device or dtype");
  SPK_CHECK(o.kernel_size >= 3 && o.kernel_size % 2 == 1, op, ": kernel_size ", o.kernel_size,
            " must be odd and >= 3 (the filters are symmetric about a centre tap)");
  SPK_CHECK(std::isfinite(o.sample_rate) && o.sample_rate > 0, op, ": sample_rate ", o.sample_rate,
            " must be positive");
  SPK_CHECK(o.min_low_hz >= 0 && o.min_band_hz > 0, op, ": min_low_hz ", o.min_low_hz, " must be >= 0 and min_band_hz ",
            o.min_band_hz, " > 0");
  SPK_CHECK(o.min_low_hz + o.min_band_hz < o.sample_rate / 2, op, ": min_low_hz + min_band_hz = ",
            o.min_low_hz + o.min_band_hz, " must be below sample_rate/2 = ", o.sample_rate / 2);
  SincParams p;
  p.kind = o.convention == SincConvention::asteroid ? SincKind::asteroid : SincKind::sincnet;
  p.C = low.size(0);
  p.K = o.kernel_size;
  p.sample_rate = o.sample_rate;
  p.min_low_hz = o.min_low_hz;
  p.min_band_hz = o.min_band_hz;
  return p;
}

// dlow, dband from dfilters (F, K), both on the cut-offs' device.
std::vector<Tensor> filters_backward(const SincParams& p, const Tensor& lowd, const Tensor& bandd, const Tensor& df,
                                     bool gl, bool gb) {
  Tensor dl = gl ? Tensor::empty(lowd.shape(), lowd.dtype(), lowd.device()) : Tensor();
  Tensor db = gb ? Tensor::empty(bandd.shape(), bandd.dtype(), bandd.device()) : Tensor();
  if (!gl && !gb) return {dl, db};
  Tensor dfc = df.contiguous();
  dispatch("sinc_filters backward", lowd,
      [&]<class T>() {
        sinc_filters_backward_cpu<T>(p, lowd.data<T>(), bandd.data<T>(), dfc.data<T>(), data_or_null<T>(dl),
                                     data_or_null<T>(db));
      },
      [&](void* stream) {
        sinc_filters_backward_cuda(p, lowd.data<float>(), bandd.data<float>(), dfc.data<float>(),
                                   data_or_null<float>(dl), data_or_null<float>(db), stream);
      });
  return {dl, db};
}

Tensor build_filters(const SincParams& p, const Tensor& lowd, const Tensor& bandd) {
  Tensor f = Tensor::empty({p.filters(), p.K}, lowd.dtype(), lowd.device());
  dispatch("sinc_filters", lowd,
      [&]<class T>() { sinc_filters_forward_cpu<T>(p, lowd.data<T>(), bandd.data<T>(), f.data<T>()); },
      [&](void* stream) {
        sinc_filters_forward_cuda(p, lowd.data<float>(), bandd.data<float>(), f.data<float>(), stream);
      });
  return f;
}

}  // namespace

Tensor sinc_filters(const Tensor& low_hz, const Tensor& band_hz, const SincOptions& options) {
  const SincParams p = sinc_params("sinc_filters", low_hz, band_hz, options);
  check_op_device(OpId::sinc_filters, low_hz.device());
  check_cuda_f32("sinc_filters", low_hz);
  Tensor lowd = low_hz.contiguous().detach(), bandd = band_hz.contiguous().detach();
  Tensor f = build_filters(p, lowd, bandd);
  const bool gl = needs_grad({low_hz}), gb = needs_grad({band_hz});
  return record("sinc_filters", f, {low_hz, band_hz}, [p, lowd, bandd, gl, gb](const Tensor& g) {
    return filters_backward(p, lowd, bandd, g, gl, gb);
  });
}

Tensor sinc_conv1d(const Tensor& x, const Tensor& low_hz, const Tensor& band_hz, const SincOptions& options) {
  const char* op = "sinc_conv1d";
  const SincParams p = sinc_params(op, low_hz, band_hz, options);
  SPK_CHECK(x.defined(), op, ": undefined input");
  SPK_CHECK(x.dim() == 3 && x.size(1) == 1, op, ": input ", x.str(), " must be a mono waveform (N, 1, L)");
  SPK_CHECK(x.device() == low_hz.device() && x.dtype() == low_hz.dtype(), op, ": input ", x.str(),
            " and low_hz ", low_hz.str(), " differ in device or dtype");
  check_op_device(OpId::sinc_conv1d, x.device());
  check_cuda_f32(op, x);
  SPK_CHECK(options.stride >= 1, op, ": stride must be >= 1, got ", options.stride);
  SPK_CHECK(options.padding >= 0, op, ": padding must be >= 0, got ", options.padding);
  const int64_t N = x.size(0), L = x.size(2);
  SPK_CHECK(L + 2 * options.padding >= p.K, op, ": kernel_size ", p.K, " is longer than the padded input: ", x.str(),
            " has ", L, " + 2*", options.padding, " samples (", convention_name(options.convention), " convention)");
  const ConvGeom g = conv1d_geom(N, 1, L, p.filters(), p.K, options.stride, options.padding, 1, 1);
  Tensor xc = x.contiguous().detach(), lowd = low_hz.contiguous().detach(), bandd = band_hz.contiguous().detach();
  Tensor y = Tensor::empty({N, p.filters(), g.W_out()}, x.dtype(), x.device());
  dispatch(op, x,
      [&]<class T>() {
        Tensor f = Tensor::empty({p.filters(), p.K}, x.dtype());
        sinc_conv1d_forward_cpu<T>(p, g, xc.data<T>(), lowd.data<T>(), bandd.data<T>(), f.data<T>(), y.data<T>(),
                                   conv_cpu_call_options());
      },
      [&](void* stream) {
        sinc_conv1d_forward_cuda(p, g, xc.data<float>(), lowd.data<float>(), bandd.data<float>(), y.data<float>(),
                                 stream);
      });

  const bool gx = needs_grad({x}), gl = needs_grad({low_hz}), gb = needs_grad({band_hz});
  return record(op, y, {x, low_hz, band_hz}, [=](const Tensor& gout) -> std::vector<Tensor> {
    Tensor dy = gout.contiguous();
    Tensor f = build_filters(p, lowd, bandd);
    Tensor dx = gx ? Tensor::empty(xc.shape(), xc.dtype(), xc.device()) : Tensor();
    Tensor df = gl || gb ? Tensor::empty(f.shape(), f.dtype(), f.device()) : Tensor();
    dispatch(op, xc,
        [&]<class T>() {
          conv1d_backward_cpu<T>(g, xc.data<T>(), f.data<T>(), dy.data<T>(), data_or_null<T>(dx), data_or_null<T>(df),
                                 nullptr, conv_cpu_call_options());
        },
        [&](void* stream) {
          const ConvCudaCall call;
          conv1d_backward_cuda(g, xc.data<float>(), f.data<float>(), dy.data<float>(), data_or_null<float>(dx),
                               data_or_null<float>(df), nullptr, call.context(), stream);
        });
    std::vector<Tensor> dcut = df.defined() ? filters_backward(p, lowd, bandd, df, gl, gb)
                                            : std::vector<Tensor>{Tensor(), Tensor()};
    return {dx, dcut[0], dcut[1]};
  });
}

// pyannote-audio SincConv1d / asteroid ParamSincFB __init__: hz = to_hz(linspace(to_mel(low), to_mel(high), C + 1))
// with to_mel(f) = 2595·log10(1 + f/700); low_hz_ = hz[:-1], band_hz_ = diff(hz). (asteroid runs the linspace
// in float32; we compute in double and round once, a difference below 1e-3 Hz.)
std::pair<Tensor, Tensor> sinc_init_cutoffs(int64_t C, const SincOptions& o, DType dtype) {
  SPK_CHECK(C >= 1, "sinc_init_cutoffs: ", C, " cut-off rows (must be >= 1)");
  SPK_CHECK(std::isfinite(o.sample_rate) && o.sample_rate > 0, "SincOptions.sample_rate ", o.sample_rate,
            " must be positive");
  const double nyquist = o.sample_rate / 2;
  const double lo = o.init_low_hz;
  const double hi = o.init_high_hz > 0 ? o.init_high_hz : nyquist - (o.min_low_hz + o.min_band_hz);
  SPK_CHECK(std::isfinite(lo) && lo > 0 && lo < nyquist, "SincOptions.init_low_hz ", lo,
            " must lie in (0, sample_rate/2 = ", nyquist, ")");
  SPK_CHECK(std::isfinite(hi) && hi > 0 && hi < nyquist, "SincOptions.init_high_hz ", hi,
            o.init_high_hz > 0 ? "" : " (sample_rate/2 - min_low_hz - min_band_hz)",
            " must lie in (0, sample_rate/2 = ", nyquist, ")");
  SPK_CHECK(lo < hi, "SincOptions.init_low_hz ", lo, " must be below init_high_hz ", hi);
  auto to_mel = [](double f) { return 2595 * std::log10(1 + f / 700); };
  auto to_hz = [](double m) { return 700 * (std::pow(10.0, m / 2595) - 1); };
  const double m0 = to_mel(lo), m1 = to_mel(hi);
  std::vector<double> hz(static_cast<size_t>(C + 1));
  for (int64_t i = 0; i <= C; ++i) hz[size_t(i)] = to_hz(m0 + (m1 - m0) * double(i) / double(C));
  std::vector<double> low(static_cast<size_t>(C)), band(static_cast<size_t>(C));
  for (int64_t i = 0; i < C; ++i) {
    low[size_t(i)] = hz[size_t(i)];
    band[size_t(i)] = hz[size_t(i + 1)] - hz[size_t(i)];
  }
  return {Tensor::from_vector(low, {C, 1}, DType::f64).to(dtype),
          Tensor::from_vector(band, {C, 1}, DType::f64).to(dtype)};
}

}  // namespace spk
